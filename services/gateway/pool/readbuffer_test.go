package pool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// inbox records every message the handler is given.
type inbox struct {
	openHandler
	mu   sync.Mutex
	msgs [][]byte
}

func (h *inbox) Message(_ *Conn, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, bytes.Clone(data))
}

func (h *inbox) got() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.msgs)
}

// maskedFrame is a client's final text frame carrying payload.
func maskedFrame(payload []byte) []byte {
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// TestInboundFramesAroundTheReadBuffer sends frames smaller than, equal
// to and far larger than the connection's read buffer, several in one
// write and one dribbled a few bytes at a time: each reaches the handler
// whole and in order.
func TestInboundFramesAroundTheReadBuffer(t *testing.T) {
	h := &inbox{openHandler: openHandler{opened: make(chan *Conn, 1)}}
	p := New(Limits{MaxConns: 10, AcceptRate: 100, AcceptBurst: 10, MaxMessage: 1 << 20, InboundRate: 1000, InboundBurst: 1000,
		SendQueue: 64, SendQueueBytes: 1 << 20, PingInterval: time.Minute, PongDeadline: time.Minute}, h, nil, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go p.Run(ctx)
	url := upgradeServer(t, p)

	c, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	h.conn(t)

	sizes := []int{0, 1, 125, 126, readBuffer - 7, readBuffer - 6, readBuffer, readBuffer + 1, 3 * readBuffer, 65535, 65536, 300_000}
	var want [][]byte
	var batch []byte
	for i, n := range sizes {
		m := bytes.Repeat([]byte{'a' + byte(i)}, n)
		want = append(want, m)
		batch = append(batch, maskedFrame(m)...)
	}
	if _, err := c.Write(batch); err != nil { // every frame in one write
		t.Fatal(err)
	}
	last := []byte(strings.Repeat("z", 2*readBuffer+3))
	want = append(want, last)
	for f := maskedFrame(last); len(f) > 0; { // one frame a few bytes at a time
		n := min(len(f), 7)
		if _, err := c.Write(f[:n]); err != nil {
			t.Fatal(err)
		}
		f = f[n:]
		time.Sleep(time.Millisecond)
	}
	eventually(t, func() bool { return len(h.got()) == len(want) }, "every frame handled")
	for i, m := range h.got() {
		if !bytes.Equal(m, want[i]) {
			t.Fatalf("message %d: %d bytes %.10q, want %d bytes %.10q", i, len(m), m, len(want[i]), want[i])
		}
	}
}
