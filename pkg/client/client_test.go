package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: "+format, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder collects deliveries, gaps and states.
type recorder struct {
	mu     sync.Mutex
	seqs   []uint64
	data   []string
	gaps   []Gap
	states []State
}

func (r *recorder) handle(m Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs = append(r.seqs, m.Seq)
	r.data = append(r.data, string(m.Data))
}

func (r *recorder) gap(g Gap) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gaps = append(r.gaps, g)
}

func (r *recorder) state(s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

func (r *recorder) snapshot() (seqs []uint64, data []string, gaps []Gap, states []State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs), slices.Clone(r.data), slices.Clone(r.gaps), slices.Clone(r.states)
}

func (r *recorder) kinds(k Kind) []State {
	_, _, _, states := r.snapshot()
	var out []State
	for _, s := range states {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

func testConfig(rec *recorder, urls ...string) Config {
	return Config{
		URLs:        urls,
		Backoff:     Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		DialTimeout: 2 * time.Second,
		OnState:     rec.state,
		OnGap:       rec.gap,
	}
}

func dialT(t *testing.T, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func publishN(hub *peerHub, channel string, from, to int) {
	for i := from; i <= to; i++ {
		hub.publish(channel, []byte(fmt.Sprint(i)), "")
	}
}

// wantInOrder checks that data is exactly 1..n, once each, in order.
func wantInOrder(t *testing.T, data []string, n int) {
	t.Helper()
	if len(data) != n {
		t.Fatalf("delivered %d messages, want %d: %v", len(data), n, data)
	}
	for i, d := range data {
		if d != fmt.Sprint(i+1) {
			t.Fatalf("message %d is %s, want %d (all: %v)", i, d, i+1, data)
		}
	}
}

// TestResumeAfterDisconnect: whatever ends the socket, the client comes
// back, resumes from the last delivered sequence, and the handler sees
// every message once and in order; never two sockets at once.
func TestResumeAfterDisconnect(t *testing.T) {
	cases := []struct {
		name string
		cut  func(p *peer)
	}{
		{"close 4004 reconnect", func(p *peer) { p.closeAll(frame.CloseReconnect) }},
		{"close 1001 going away", func(p *peer) { p.closeAll(frame.CloseGoingAway) }},
		{"socket cut without close frame", func(p *peer) {
			for _, c := range p.sockets() {
				_ = c.NetConn().Close()
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub()
			p := startPeer(t, hub, "n1")
			rec := &recorder{}
			c := dialT(t, testConfig(rec, p.URL))
			if _, err := c.Subscribe(context.Background(), "room", rec.handle); err != nil {
				t.Fatal(err)
			}
			publishN(hub, "room", 1, 5)
			eventually(t, 5*time.Second, func() bool { return rec.count() == 5 }, "first 5")
			tc.cut(p)
			publishN(hub, "room", 6, 10) // while the client is away (or already back)
			eventually(t, 5*time.Second, func() bool { return p.acceptCount() == 2 && c.Connected() }, "reconnect")
			publishN(hub, "room", 11, 15)
			eventually(t, 5*time.Second, func() bool { return rec.count() >= 15 }, "all 15, got %d", rec.count())
			_, data, gaps, _ := rec.snapshot()
			wantInOrder(t, data, 15)
			if len(gaps) != 0 {
				t.Fatalf("gaps %v, want none", gaps)
			}
			oneAtATime(t, rec, hub)
			d := rec.kinds(Disconnected)
			if len(d) != 1 || d[0].Err == nil {
				t.Fatalf("disconnected states %+v, want one with a cause", d)
			}
		})
	}
}

// TestGapSurfaced: a resume the server cannot replay (recovered:false)
// reaches the gap callback and the counter.
func TestGapSurfaced(t *testing.T) {
	hub := newHub()
	p := startPeer(t, hub, "n1")
	rec := &recorder{}
	c := dialT(t, testConfig(rec, p.URL))
	sub, err := c.Subscribe(context.Background(), "room", rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	publishN(hub, "room", 1, 3)
	eventually(t, 5*time.Second, func() bool { return rec.count() == 3 }, "first 3")
	hub.setTrim(100)
	p.closeAll(frame.CloseReconnect)
	eventually(t, 5*time.Second, func() bool { return sub.Gaps() == 1 }, "gap counted")
	eventually(t, 5*time.Second, func() bool { _, _, g, _ := rec.snapshot(); return len(g) == 1 }, "gap callback")
	_, _, gaps, _ := rec.snapshot()
	if gaps[0] != (Gap{Channel: "room", After: sub.LastSeq()}) || gaps[0].After != 3 {
		t.Fatalf("gap %+v, want room after 3", gaps[0])
	}
}

// TestPublishStoredOnce: the socket dies after the server stored a
// publish but before its ack; the retry on the new connection carries
// the same idem and is answered as a duplicate.
func TestPublishStoredOnce(t *testing.T) {
	hub := newHub()
	p := startPeer(t, hub, "n1")
	rec := &recorder{}
	c := dialT(t, testConfig(rec, p.URL))
	p.mu.Lock()
	p.dropNext = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Publish(ctx, "room", []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate || ack.Seq != 1 {
		t.Fatalf("ack %+v, want the duplicate of seq 1", ack)
	}
	if n := hub.stored("room"); n != 1 {
		t.Fatalf("stored %d times, want once", n)
	}
	if p.acceptCount() != 2 {
		t.Fatalf("accepts %d, want 2", p.acceptCount())
	}
}

// TestPublishInvalid: arguments are checked before anything is sent.
func TestPublishInvalid(t *testing.T) {
	hub := newHub()
	p := startPeer(t, hub, "n1")
	c := dialT(t, testConfig(&recorder{}, p.URL))
	for _, tc := range []struct{ channel, data string }{
		{"room", "{not json"}, {"bad channel", "1"}, {"", "1"},
	} {
		if _, err := c.Publish(context.Background(), tc.channel, []byte(tc.data)); !errors.Is(err, ErrInvalid) {
			t.Errorf("publish(%q, %q) = %v, want ErrInvalid", tc.channel, tc.data, err)
		}
	}
	if _, err := c.Subscribe(context.Background(), "a.b", func(Message) {}); !errors.Is(err, ErrInvalid) {
		t.Errorf("subscribe a.b = %v, want ErrInvalid", err)
	}
}

// oneAtATime checks that the client never had two sockets: its states
// alternate connected / disconnected (a disconnect is reported once the
// socket is closed, before the next dial), and the gateways end up seeing
// one socket (their view of a close lags, so it is polled).
func oneAtATime(t *testing.T, rec *recorder, hub *peerHub) {
	t.Helper()
	up := false
	_, _, _, states := rec.snapshot()
	for _, s := range states {
		switch s.Kind {
		case Connected:
			if up {
				t.Fatalf("connected twice without a disconnect: %v", states)
			}
			up = true
		case Disconnected:
			up = false
		}
	}
	eventually(t, 5*time.Second, func() bool {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return hub.live == 1
	}, "one socket open on the gateways")
}

// TestUnsubscribe: after Unsubscribe the handler sees nothing more, the
// channel can be subscribed again, and a second subscribe to a live
// channel is refused.
func TestUnsubscribe(t *testing.T) {
	hub := newHub()
	p := startPeer(t, hub, "n1")
	rec := &recorder{}
	c := dialT(t, testConfig(rec, p.URL))
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, "room", rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "room", rec.handle); !errors.Is(err, ErrSubscribed) {
		t.Fatalf("second subscribe = %v, want ErrSubscribed", err)
	}
	publishN(hub, "room", 1, 2)
	eventually(t, 5*time.Second, func() bool { return rec.count() == 2 }, "first 2")
	if err := sub.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Done():
	default:
		t.Fatal("subscription not done after Unsubscribe")
	}
	publishN(hub, "room", 3, 4)
	other := &recorder{}
	if _, err := c.Subscribe(ctx, "room", other.handle); err != nil {
		t.Fatal(err)
	}
	publishN(hub, "room", 5, 5)
	eventually(t, 5*time.Second, func() bool { return other.count() == 1 }, "new subscription delivers")
	if rec.count() != 2 {
		t.Fatalf("old handler saw %d messages, want 2", rec.count())
	}
}
