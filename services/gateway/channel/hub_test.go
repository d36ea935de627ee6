package channel

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestFanoutLive(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	subs := make([]*testSub, 50)
	for i := range subs {
		subs[i] = newSub(1000)
		res, err := h.Subscribe(ctxT(t), "news", subs[i], nil)
		if err != nil || !res.Recovered {
			t.Fatalf("subscribe: %+v %v", res, err)
		}
	}
	_, js := s.JetStream()
	if n := streamConsumers(t, js); n != 0 || liveSubs(h) != 1 {
		t.Fatalf("%d consumers and %d live subscriptions for one channel, want 0 and 1", n, liveSubs(h))
	}
	other := publishN(t, h, "other", 3)
	want := publishN(t, h, "news", 100)
	for _, sub := range subs {
		waitSeqs(t, sub, want)
		sub.checkBad(t)
	}
	f := subs[7].snapshot()[42]
	if f.Channel != "news" || string(f.Data) != `{"i":42}` {
		t.Fatalf("frame 42 = %+v", f)
	}
	st := h.Stats()
	if st.Channels != 1 || st.Subscribers != 50 || st.MsgsIn != 100 || st.MsgsOut != 5000 {
		t.Fatalf("stats %+v (other channel seqs %v)", st, other)
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	slow, fast := newSub(5), newSub(1000)
	for _, sub := range []*testSub{slow, fast} {
		if _, err := h.Subscribe(ctxT(t), "feed", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := publishN(t, h, "feed", 20)
	waitSeqs(t, fast, want)
	natstest.Eventually(t, 5*time.Second, func() bool { return h.Stats().Dropped == 1 }, "slow subscriber not dropped: %+v", h.Stats())
	checkSeqs(t, slow.seqs(), want[:5])
	if st := h.Stats(); st.Subscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The dropped subscriber resumes from its last sequence and loses nothing.
	resumed := newSub(1000)
	res, err := h.Subscribe(ctxT(t), "feed", resumed, ptr(want[4]))
	if err != nil || !res.Recovered || res.Replayed != 15 {
		t.Fatalf("resume: %+v %v", res, err)
	}
	checkSeqs(t, resumed.seqs(), want[5:])
}

func TestPublishIdempotent(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	sub := newSub(100)
	if _, err := h.Subscribe(ctxT(t), "orders", sub, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, idem string
		dup        bool
	}{
		{"first", "order-1", false},
		{"retry", "order-1", true},
		{"retry again", "order-1", true},
		{"other id", "order-2", false},
		{"no id", "", false},
		{"no id twice", "", false},
	}
	seqs := map[string]uint64{}
	var stored []uint64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, dup, err := h.Publish(ctxT(t), "", "orders", []byte(`{"n":1}`), tt.idem)
			if err != nil {
				t.Fatal(err)
			}
			if dup != tt.dup {
				t.Fatalf("duplicate = %v, want %v", dup, tt.dup)
			}
			if prev, ok := seqs[tt.idem]; ok && tt.idem != "" && prev != seq {
				t.Fatalf("retry stored at %d, first at %d", seq, prev)
			}
			seqs[tt.idem] = seq
			if !dup {
				stored = append(stored, seq)
			}
		})
	}
	waitSeqs(t, sub, stored)
	// No late duplicate shows up after the last stored message.
	extra := publishN(t, h, "orders", 1)
	waitSeqs(t, sub, append(stored, extra...))
}

func TestUnsubscribeStopsSubscription(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	_, js := s.JetStream()
	a, b := newSub(100), newSub(100)
	for _, sub := range []*testSub{a, b} {
		if _, err := h.Subscribe(ctxT(t), "room", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Subscribe(ctxT(t), "room", a, nil); !errors.Is(err, ErrSubscribed) {
		t.Fatalf("second subscribe of the same subscriber: %v", err)
	}
	h.Unsubscribe("room", a)
	h.Unsubscribe("room", a) // idempotent
	if liveSubs(h) != 1 {
		t.Fatalf("%d live subscriptions with one subscriber left", liveSubs(h))
	}
	want := publishN(t, h, "room", 3)
	waitSeqs(t, b, want)
	if a.count() != 0 {
		t.Fatalf("unsubscribed subscriber got %v", a.seqs())
	}
	h.Unsubscribe("room", b)
	h.Unsubscribe("nowhere", b)
	if n := streamConsumers(t, js); n != 0 || liveSubs(h) != 0 {
		t.Fatalf("%d consumers, %d live subscriptions after the last subscriber left", n, liveSubs(h))
	}
	if st := h.Stats(); st.Channels != 0 || st.Subscribers != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The channel starts again for a new subscriber.
	c := newSub(100)
	if _, err := h.Subscribe(ctxT(t), "room", c, nil); err != nil {
		t.Fatal(err)
	}
	more := publishN(t, h, "room", 2)
	waitSeqs(t, c, more)
}

func TestClose(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	_, js := s.JetStream()
	for i := range 3 {
		if _, err := h.Subscribe(ctxT(t), fmt.Sprintf("c%d", i), newSub(10), nil); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	h.Close()
	if _, err := h.Subscribe(ctxT(t), "c0", newSub(10), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("subscribe after close: %v", err)
	}
	if _, _, err := h.Publish(ctxT(t), "", "c0", []byte(`1`), ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return streamConsumers(t, js) == 0 }, "consumers left after close")
	if st := h.Stats(); st.Channels != 0 || st.Subscribers != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNonJSONPayload(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	nc, js := s.JetStream()
	sub := newSub(100)
	if _, err := h.Subscribe(ctxT(t), "raw", sub, nil); err != nil {
		t.Fatal(err)
	}
	payloads := []struct{ in, want string }{
		{`{"ok":true}`, `{"ok":true}`},
		{`hello`, `"hello"`},
		{``, `""`},
		{"\xff\"<x>", `"\ufffd\"\u003cx\u003e"`},
	}
	for _, p := range payloads {
		if _, err := js.Publish(ctxT(t), events.ChannelSubject("raw"), []byte(p.in)); err != nil {
			t.Fatal(err)
		}
	}
	// A core NATS publish on the subject is stored by the stream too.
	if err := nc.Publish(events.ChannelSubject("raw"), []byte("plain")); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return sub.count() == len(payloads)+1 }, "got %d messages", sub.count())
	sub.checkBad(t)
	got := sub.snapshot()
	for i, p := range payloads {
		if string(got[i].Data) != p.want {
			t.Errorf("payload %q delivered as %s, want %s", p.in, got[i].Data, p.want)
		}
	}
	if st := h.Stats(); st.NonJSON != 4 {
		t.Fatalf("NonJSON = %d, want 4", st.NonJSON)
	}
}

func TestUnavailable(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{FetchTimeout: 300 * time.Millisecond})
	s.Stop()
	if _, err := h.Subscribe(ctxT(t), "x", newSub(1), nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("subscribe with NATS down: %v", err)
	}
	ctx, cancel := ctxWithTimeout(300 * time.Millisecond)
	defer cancel()
	if _, _, err := h.Publish(ctx, "", "x", []byte(`1`), ""); err == nil {
		t.Fatal("publish with NATS down succeeded")
	}
	if st := h.Stats(); st.Channels != 0 {
		t.Fatalf("failed channel kept: %+v", st)
	}
}

// TestLastSlowSubscriberStopsChannel: dropping the only subscriber from
// inside the fan-out stops and deletes the channel's consumer.
func TestLastSlowSubscriberStopsChannel(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	_, js := s.JetStream()
	slow := newSub(2)
	if _, err := h.Subscribe(ctxT(t), "only", slow, nil); err != nil {
		t.Fatal(err)
	}
	publishN(t, h, "only", 5)
	natstest.Eventually(t, 5*time.Second, func() bool {
		st := h.Stats()
		return st.Dropped == 1 && st.Channels == 0 && st.Subscribers == 0
	}, "slow subscriber not dropped: %+v", h.Stats())
	if n := streamConsumers(t, js); n != 0 || liveSubs(h) != 0 {
		t.Fatalf("%d consumers, %d live subscriptions after the last subscriber left", n, liveSubs(h))
	}
	h.Unsubscribe("only", slow) // after a drop: a no-op
	if slow.count() != 2 {
		t.Fatalf("dropped subscriber got %d messages", slow.count())
	}
}

// TestUnsubscribeDuringFanout: once Unsubscribe returns, Deliver is not
// called again, even while messages are flowing.
func TestUnsubscribeDuringFanout(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	keep := newSub(100000)
	if _, err := h.Subscribe(ctxT(t), "busy", keep, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			if _, _, err := h.Publish(ctxT(t), "", "busy", fmt.Appendf(nil, "%d", i), ""); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	type left struct {
		sub *testSub
		n   int
	}
	var gone []left
	for range 20 {
		sub := newSub(100000)
		if _, err := h.Subscribe(ctxT(t), "busy", sub, nil); err != nil {
			t.Fatal(err)
		}
		natstest.Eventually(t, 5*time.Second, func() bool { return sub.count() > 0 || isDone(done) }, "no message")
		h.Unsubscribe("busy", sub)
		gone = append(gone, left{sub, sub.count()})
	}
	<-done
	// Every fan-out is over once the remaining subscriber has everything.
	natstest.Eventually(t, 10*time.Second, func() bool { return keep.count() == 300 }, "kept subscriber got %d", keep.count())
	for i, g := range gone {
		if g.sub.count() != g.n {
			t.Fatalf("subscriber %d: Deliver called after Unsubscribe returned (%d then %d)", i, g.n, g.sub.count())
		}
	}
	if st := h.Stats(); st.Subscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestCloseDuringSubscribes: closing while channels are starting leaves
// no consumer running and no subscriber counted.
func TestCloseDuringSubscribes(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	_, js := s.JetStream()
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			_, err := h.Subscribe(ctxT(t), fmt.Sprintf("c%d", i%10), newSub(10), nil)
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("subscribe: %v", err)
			}
		})
	}
	h.Close()
	wg.Wait()
	natstest.Eventually(t, 10*time.Second, func() bool { return streamConsumers(t, js) == 0 }, "consumers left after close")
	if st := h.Stats(); st.Channels != 0 || st.Subscribers != 0 {
		t.Fatalf("stats %+v", st)
	}
}
