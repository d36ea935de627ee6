package edge

import (
	"net"
	"syscall"
	"testing"
)

// TestSocketOptionsReachTheSocket: a socket option set through an
// accepted socket's SyscallConn is set on the TCP socket itself (the
// wrapper must not hide it, as it once hid TCP_NOTSENT_LOWAT).
func TestSocketOptionsReachTheSocket(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, nil, 0, nil)
	defer func() { _ = ln.Close() }()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("accepted socket %T has no SyscallConn", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	const notSentLowat, want = 25, 64 << 10 // TCP_NOTSENT_LOWAT
	var got int
	var gerr error
	err = rc.Control(func(fd uintptr) {
		if gerr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, notSentLowat, want); gerr == nil {
			got, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, notSentLowat)
		}
	})
	if err != nil || gerr != nil || got != want {
		t.Fatalf("TCP_NOTSENT_LOWAT through the wrapper: %d (%v, %v), want %d", got, err, gerr, want)
	}
}
