package edge

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// Listener caps the sockets a net.Listener hands out: every accepted
// socket counts (a WebSocket, an idle HTTP keep-alive, a half-sent
// request) until it is closed. Past MaxSockets in all, or past PerAddr from
// one address (trusted proxies excepted), a new socket is closed at once
// and counted in Refused; Accept goes on with the next one, so the sockets
// under the caps keep being served.
type Listener struct {
	net.Listener
	max     func() int
	perAddr int
	peers   *Peers

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int

	refused atomic.Uint64
}

// NewListener wraps ln. maxSockets (nil, or returning 0) or perAddr 0
// turns that cap off.
func NewListener(ln net.Listener, maxSockets func() int, perAddr int, peers *Peers) *Listener {
	return &Listener{Listener: ln, max: maxSockets, perAddr: perAddr, peers: peers, byAddr: map[netip.Addr]int{}}
}

// Accept returns the next socket under the caps.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a := SocketAddr(c.RemoteAddr().String())
		if l.take(a) {
			return &socket{Conn: c, l: l, addr: a}, nil
		}
		l.refused.Add(1)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

func (l *Listener) take(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max != nil && l.max() > 0 && l.open >= l.max() {
		return false
	}
	limited := l.perAddr > 0 && (l.peers == nil || !l.peers.Trusted(a))
	if limited && l.byAddr[a] >= l.perAddr {
		return false
	}
	l.open++
	l.byAddr[a]++
	return true
}

func (l *Listener) done(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.byAddr[a] - 1; n > 0 {
		l.byAddr[a] = n
	} else {
		delete(l.byAddr, a)
	}
}

// Open is the number of accepted sockets not yet closed.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused counts the sockets closed at accept for being over a cap.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// socket is an accepted net.Conn that gives its place back when closed.
type socket struct {
	net.Conn
	l    *Listener
	addr netip.Addr
	once sync.Once
}

// Close closes the socket and frees its place (once).
func (s *socket) Close() error {
	err := s.Conn.Close()
	s.once.Do(func() { s.l.done(s.addr) })
	return err
}

// SetLinger sets SO_LINGER on a TCP socket (a crash-like close).
func (s *socket) SetLinger(sec int) error {
	if tc, ok := s.Conn.(*net.TCPConn); ok {
		return tc.SetLinger(sec)
	}
	return nil
}

// NetConn is the wrapped connection.
func (s *socket) NetConn() net.Conn { return s.Conn }

// errNoSyscallConn: the wrapped connection has no file descriptor.
var errNoSyscallConn = errors.New("edge: socket has no syscall.RawConn")

// SyscallConn is the wrapped socket's raw connection, so that socket
// options (TCP_NOTSENT_LOWAT, TCP_USER_TIMEOUT) reach the socket through
// this wrapper as they would through a *net.TCPConn.
func (s *socket) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := s.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoSyscallConn
}
