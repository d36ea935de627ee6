package edge

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestPeersOf(t *testing.T) {
	peers, err := NewPeers("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote, xff, xri, want string
	}{
		{"direct", "203.0.113.5:1234", "", "", "203.0.113.5"},
		{"untrusted socket ignores headers", "203.0.113.5:1234", "1.2.3.4", "5.6.7.8", "203.0.113.5"},
		{"trusted proxy, forwarded", "10.1.2.3:80", "198.51.100.7", "", "198.51.100.7"},
		{"right-most untrusted hop", "10.1.2.3:80", "6.6.6.6, 198.51.100.7, 10.9.9.9", "", "198.51.100.7"},
		{"single-address proxy", "192.168.1.1:80", "198.51.100.8", "", "198.51.100.8"},
		{"real ip fallback", "10.1.2.3:80", "", "198.51.100.9", "198.51.100.9"},
		{"garbled hop stops", "10.1.2.3:80", "junk", "", "10.1.2.3"},
		{"ipv6 direct", "[2001:db8::1]:443", "", "", "2001:db8::1"},
		{"v4-mapped", "[::ffff:203.0.113.5]:1", "", "", "203.0.113.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.xri != "" {
				r.Header.Set("X-Real-IP", tc.xri)
			}
			if got := peers.Of(r).String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := NewPeers("10.0.0.0/33"); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad CIDR: %v", err)
	}
}

func TestOrigins(t *testing.T) {
	o := NewOrigins("https://app.example.com, http://localhost:3000/")
	cases := []struct {
		origin string
		want   bool
	}{
		{"", true}, {"https://app.example.com", true}, {"HTTPS://APP.example.com", true},
		{"http://localhost:3000", true}, {"https://evil.example", false}, {"null", false},
		{"http://gw.example:8080", true}, {"http://gw.example:9090", false},
	}
	for _, tc := range cases {
		r := &http.Request{Header: http.Header{}, Host: "gw.example:8080"}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := o.Allow(r); got != tc.want {
			t.Errorf("origin %q: allowed %v, want %v", tc.origin, got, tc.want)
		}
	}
	if !NewOrigins("*").Allow(&http.Request{Header: http.Header{"Origin": {"https://x"}}}) {
		t.Error("* refused an origin")
	}
	if NewOrigins("").Allow(&http.Request{Header: http.Header{"Origin": {"https://x"}}}) {
		t.Error("an empty list allowed a browser")
	}
}

func TestLimits(t *testing.T) {
	now := time.Now()
	a, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	t.Run("connections", func(t *testing.T) {
		l := NewLimits(LimitConfig{MaxConns: 2})
		r1, _, err1 := l.Acquire(a, now)
		_, _, err2 := l.Acquire(a, now)
		_, _, err3 := l.Acquire(a, now)
		if err1 != nil || err2 != nil || !errors.Is(err3, ErrPeerConns) {
			t.Fatalf("errs %v %v %v", err1, err2, err3)
		}
		if _, _, err := l.Acquire(b, now); err != nil {
			t.Fatalf("another address refused: %v", err)
		}
		r1()
		r1() // once only
		if _, _, err := l.Acquire(a, now); err != nil {
			t.Fatalf("after release: %v", err)
		}
		if _, _, err := l.Acquire(a, now); !errors.Is(err, ErrPeerConns) {
			t.Fatalf("a double release freed two places: %v", err)
		}
	})
	t.Run("rate", func(t *testing.T) {
		l := NewLimits(LimitConfig{AcceptRate: 1, AcceptBurst: 3})
		for i := range 3 {
			if _, _, err := l.Acquire(a, now); err != nil {
				t.Fatalf("burst %d: %v", i, err)
			}
		}
		_, retry, err := l.Acquire(a, now)
		if !errors.Is(err, ErrPeerRate) || retry <= 0 || retry > time.Second {
			t.Fatalf("past burst: %v retry %v", err, retry)
		}
		if _, _, err := l.Acquire(a, now.Add(time.Second)); err != nil {
			t.Fatalf("after a second: %v", err)
		}
	})
	t.Run("auth failures", func(t *testing.T) {
		l := NewLimits(LimitConfig{AuthFailures: 3})
		for range 3 {
			if _, err := l.Blocked(a, now); err != nil {
				t.Fatal(err)
			}
			l.Failed(a, now)
		}
		if _, err := l.Blocked(a, now); !errors.Is(err, ErrPeerAuth) {
			t.Fatalf("after 3 failures: %v", err)
		}
		if _, err := l.Blocked(b, now); err != nil {
			t.Fatalf("another address blocked: %v", err)
		}
		if _, err := l.Blocked(a, now.Add(20*time.Second)); err != nil {
			t.Fatalf("after a refill: %v", err)
		}
	})
	t.Run("sweep and table bound", func(t *testing.T) {
		l := NewLimits(LimitConfig{MaxConns: 5, AcceptRate: 10, AcceptBurst: 1, MaxPeers: 1})
		rel, _, err := l.Acquire(a, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Acquire(b, now); !errors.Is(err, ErrPeers) {
			t.Fatalf("past MaxPeers: %v", err)
		}
		l.Sweep(now.Add(time.Minute))
		if l.Len() != 1 {
			t.Fatal("swept an address with an open connection")
		}
		rel()
		l.Sweep(now.Add(time.Minute))
		if l.Len() != 0 {
			t.Fatal("an idle address was kept")
		}
	})
}

func TestListenerCaps(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, func() int { return 3 }, 2, nil)
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// dial connects from local; a socket the listener refuses may be
	// reset before the dial returns.
	dial := func(local string) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		if c, err := d.Dial("tcp", inner.Addr().String()); err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
	}
	dial("127.0.0.1")
	first := <-accepted
	dial("127.0.0.1")
	dial("127.0.0.1") // over the cap per address
	dial("127.0.0.2")
	<-accepted
	<-accepted
	natstest.Eventually(t, 5*time.Second, func() bool { return l.Refused() >= 1 }, "the socket over the cap per address was not refused")
	if l.Refused() != 1 || l.Open() != 3 {
		t.Fatalf("refused %d open %d, want 1 and 3", l.Refused(), l.Open())
	}
	dial("127.0.0.3") // over the total cap
	natstest.Eventually(t, 5*time.Second, func() bool { return l.Refused() >= 2 }, "the socket over the total cap was not refused")
	if l.Refused() != 2 {
		t.Fatalf("refused %d past the total cap", l.Refused())
	}
	_ = first.Close()
	_ = first.Close()
	if l.Open() != 2 {
		t.Fatalf("open %d after a close", l.Open())
	}
	dial("127.0.0.3")
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a freed place was not given to the next socket")
	}
}
