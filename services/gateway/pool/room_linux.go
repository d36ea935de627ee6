package pool

import (
	"net"
	"syscall"
	"time"
)

// Socket options of linux/tcp.h.
const (
	tcpNotSentLowat = 25
	tcpUserTimeout  = 18
)

// setTCP sets an integer TCP option on nc's socket: a *net.TCPConn or a
// wrapper that exposes its syscall.Conn (the edge listener's sockets).
func setTCP(nc net.Conn, opt, value int) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, opt, value)
	})
}

// boundUnsent caps the bytes the kernel keeps unsent for nc.
func boundUnsent(nc net.Conn, bytes int) { setTCP(nc, tcpNotSentLowat, bytes) }

// boundOrphan makes the kernel drop nc's connection once data it holds
// has waited d for the peer (unacknowledged, or behind a zero window),
// also after the descriptor is closed.
func boundOrphan(nc net.Conn, d time.Duration) { setTCP(nc, tcpUserTimeout, int(d.Milliseconds())) }
