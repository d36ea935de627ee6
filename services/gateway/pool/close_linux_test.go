package pool

import (
	"bytes"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// tcpState is the kernel's TCP state of c's socket (linux/tcp.h:
// 1 established, 7 closed, 8 close-wait), read without reading data.
func tcpState(t *testing.T, c net.Conn) uint8 {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info [256]byte // struct tcp_info; its first byte is the state
	size := uint32(len(info))
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	}); err != nil || errno != 0 {
		t.Fatalf("TCP_INFO: %v %v", err, errno)
	}
	return info[0]
}

// TestClosedNonReaderSocketEnds: a peer that reads nothing is closed as
// a slow consumer; its close frame cannot pass, and once gws has closed
// the descriptor the kernel would go on offering the unsent bytes for a
// minute or more. The node bounds that: the peer's socket ends (the
// node resets it) within 5 s of the close, without the peer reading a
// byte.
func TestClosedNonReaderSocketEnds(t *testing.T) {
	p, h, url := startHostile(t, Limits{SendQueue: 1 << 20, SendQueueBytes: 4 << 20})
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.(*net.TCPConn).SetReadBuffer(4096) // a zero window soon
	pr := &peer{answer: true, closed: make(chan struct{})}
	ws, _, err := gws.NewClientFromConn(pr, &gws.ClientOption{Addr: url}, nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := h.conn(t)
	big := bytes.Repeat([]byte("x"), 60000)
	// Paced, so that the kernel's buffers fill before the queue does: the
	// close then waits behind bytes the peer never takes.
	for i := 0; i < 2000 && c.Send(big); i++ {
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, func() bool { return p.Totals().Slow == 1 }, "closed as a slow consumer")
	closed := time.Now()
	if s := tcpState(t, ws.NetConn()); s != 1 {
		t.Logf("peer's socket already in state %d at the close", s)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return tcpState(t, ws.NetConn()) != 1 },
		"the peer's socket left established after the node closed it")
	t.Logf("the peer's socket left established (state %d) %v after the close", tcpState(t, ws.NetConn()), time.Since(closed).Round(10*time.Millisecond))
}
