package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// TestBadTokenStops: a refused token ends Dial with ErrUnauthorized and
// nothing is retried, whether the gateway refuses with close 4101 or with
// HTTP 401.
func TestBadTokenStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		http bool
	}{{"close 4101", false}, {"http 401", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, newHub(), "n1")
			p.token, p.http = "good", tc.http
			rec := &recorder{}
			cfg := testConfig(rec, p.URL)
			cfg.Token = "bad"
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, cfg)
			if c != nil || !errors.Is(err, ErrUnauthorized) || !errors.Is(err, ErrStopped) {
				t.Fatalf("dial = %v, %v; want ErrUnauthorized", c, err)
			}
			if ctx.Err() != nil {
				t.Fatal("dial waited for its deadline instead of stopping")
			}
			if n := len(rec.kinds(Reconnecting)); n != 0 {
				t.Fatalf("%d reconnect attempts after a bad token", n)
			}
			closed := rec.kinds(Closed)
			if len(closed) != 1 || !errors.Is(closed[0].Err, ErrUnauthorized) {
				t.Fatalf("closed states %+v, want one with ErrUnauthorized", closed)
			}
		})
	}
}

// TestTerminalCloseStops: a 41xx close on a live connection stops the
// client with the error in Err and in pending calls.
func TestTerminalCloseStops(t *testing.T) {
	p := startPeer(t, newHub(), "n1")
	rec := &recorder{}
	cfg := testConfig(rec, p.URL)
	cfg.Token = "good"
	p.token = "good"
	c := dialT(t, cfg)
	p.setSilent(true) // the publish below stays unanswered
	pub := make(chan error, 1)
	go func() {
		_, err := c.Publish(context.Background(), "room", []byte("1"))
		pub <- err
	}()
	p.closeAll(frame.CloseTokenExpired)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not stop")
	}
	if err := c.Err(); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Err() = %v, want ErrUnauthorized", err)
	}
	if err := <-pub; !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("pending publish = %v, want ErrUnauthorized", err)
	}
	if _, err := c.Subscribe(context.Background(), "room", func(Message) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("subscribe after stop = %v, want ErrClosed", err)
	}
	if p.acceptCount() != 1 {
		t.Fatalf("accepts %d: the client reconnected after a terminal close", p.acceptCount())
	}
}

// TestStaleReconnects: a peer that stops pinging and answering is
// declared stale after interval+grace and replaced.
func TestStaleReconnects(t *testing.T) {
	p := startPeer(t, newHub(), "n1")
	p.ping = 100 * time.Millisecond
	rec := &recorder{}
	cfg := testConfig(rec, p.URL)
	cfg.StaleGrace = 100 * time.Millisecond
	c := dialT(t, cfg)
	p.setSilent(true)
	eventually(t, 5*time.Second, func() bool { return len(rec.kinds(Disconnected)) >= 1 }, "stale detected")
	d := rec.kinds(Disconnected)[0]
	if !errors.Is(d.Err, ErrStale) {
		t.Fatalf("disconnect cause %v, want ErrStale", d.Err)
	}
	p.setSilent(false)
	eventually(t, 5*time.Second, func() bool { return p.acceptCount() >= 2 && c.Connected() }, "reconnected")
}

// TestCloseIsClean: Close ends the client with no error, fails pending
// calls with ErrClosed, and is idempotent.
func TestCloseIsClean(t *testing.T) {
	p := startPeer(t, newHub(), "n1")
	rec := &recorder{}
	c := dialT(t, testConfig(rec, p.URL))
	p.setSilent(true)
	pub := make(chan error, 1)
	go func() {
		_, err := c.Publish(context.Background(), "room", []byte("1"))
		pub <- err
	}()
	eventually(t, 5*time.Second, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending) == 1
	}, "publish pending")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if err := <-pub; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending publish = %v, want ErrClosed", err)
	}
	closed := rec.kinds(Closed)
	if len(closed) != 1 || closed[0].Err != nil {
		t.Fatalf("closed states %+v, want one without error", closed)
	}
}

// TestRetryAfterHonoured: an upgrade refused with 503 and Retry-After is
// retried, no sooner than the server asked.
func TestRetryAfterHonoured(t *testing.T) {
	p := startPeer(t, newHub(), "n1")
	p.busy = 1
	rec := &recorder{}
	c := dialT(t, testConfig(rec, p.URL))
	if !c.Connected() {
		t.Fatal("not connected")
	}
	re := rec.kinds(Reconnecting)
	var he *HandshakeError
	if len(re) != 1 || re[0].Delay < time.Second || !errors.As(re[0].Err, &he) || he.Status != 503 {
		t.Fatalf("reconnecting states %+v, want one of at least 1s after a 503", re)
	}
}

// TestDiscoveryFallback: a discovery endpoint that is down does not stop
// the client from using its URLs.
func TestDiscoveryFallback(t *testing.T) {
	p := startPeer(t, newHub(), "n1")
	rec := &recorder{}
	cfg := testConfig(rec, p.URL)
	cfg.Discovery = "http://127.0.0.1:1/v1/connect"
	c := dialT(t, cfg)
	if !c.Connected() || p.acceptCount() != 1 {
		t.Fatalf("connected %v, accepts %d", c.Connected(), p.acceptCount())
	}
}

// TestTokenFuncRefreshes: with a TokenFunc an expired token is replaced
// by the next one instead of stopping the client.
func TestTokenFuncRefreshes(t *testing.T) {
	p := startPeer(t, newHub(), "n1")
	p.token, p.expired = "fresh", "stale"
	tokens := make(chan string, 2)
	tokens <- "stale"
	tokens <- "fresh"
	rec := &recorder{}
	cfg := testConfig(rec, p.URL)
	cfg.TokenFunc = func(context.Context) (string, error) { return <-tokens, nil }
	c := dialT(t, cfg)
	re := rec.kinds(Reconnecting)
	if !c.Connected() || len(re) != 1 || !errors.Is(re[0].Err, ErrUnauthorized) {
		t.Fatalf("connected %v, reconnecting %+v; want one retry after the expired token", c.Connected(), re)
	}
}
