package channel

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestIdemScopedPerChannel: an idem key is scoped to (identity, channel):
// the same key on two channels, or by two identities, stores two
// messages; the same key again on the same channel by the same identity
// is a duplicate.
func TestIdemScopedPerChannel(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	subs := map[string]*testSub{"room-a": newSub(10), "room-b": newSub(10)}
	for ch, sub := range subs {
		if _, err := h.Subscribe(ctxT(t), ch, sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	pub := func(identity, ch string) (uint64, bool) {
		seq, dup, err := h.Publish(ctxT(t), identity, ch, []byte(`{"k":"c7-2"}`), "c7-2")
		if err != nil {
			t.Fatal(err)
		}
		return seq, dup
	}
	a, dupA := pub("", "room-a")
	b, dupB := pub("", "room-b")
	if dupA || dupB || a == b {
		t.Fatalf("same key on two channels: %d %v, %d %v", a, dupA, b, dupB)
	}
	if again, dup := pub("", "room-a"); !dup || again != a {
		t.Fatalf("retry on room-a: %d %v, want %d duplicate", again, dup, a)
	}
	c, dupC := pub("user-7", "room-a")
	if dupC || c == a {
		t.Fatalf("same key by another identity: %d %v", c, dupC)
	}
	waitSeqs(t, subs["room-a"], []uint64{a, c})
	waitSeqs(t, subs["room-b"], []uint64{b})
	if MessageID("", "a", "bc") == MessageID("", "ab", "c") {
		t.Fatal("message ids of different triples collide")
	}
}

// TestManyChannelsNoConsumer: 2,000 channels with a subscriber each on one
// node cost no JetStream consumer; each gets its own messages.
func TestManyChannelsNoConsumer(t *testing.T) {
	s := natstest.Start(t)
	_, js := s.JetStream()
	h := newHub(t, s, Config{})
	const n = 2000
	subs := make([]*testSub, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				subs[i] = newSub(10)
				if _, err := h.Subscribe(ctxT(t), fmt.Sprintf("room-%d", i), subs[i], nil); err != nil {
					t.Errorf("subscribe %d: %v", i, err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if c := streamConsumers(t, js); c != 0 {
		t.Fatalf("%d consumers on the channel stream for %d channels", c, n)
	}
	if st := h.Stats(); st.Channels != n || st.Subscribers != n || liveSubs(h) != n {
		t.Fatalf("stats %+v, %d live subscriptions", st, liveSubs(h))
	}
	want := make([][]uint64, n)
	for i := 0; i < n; i += 97 {
		want[i] = publishN(t, h, fmt.Sprintf("room-%d", i), 2)
	}
	for i := 0; i < n; i += 97 {
		waitSeqs(t, subs[i], want[i])
	}
	if subs[1].count() != 0 {
		t.Fatalf("room-1 got %v", subs[1].seqs())
	}
}

// TestGapInLiveFlowFilled drops the node's NATS connection while messages
// are published: what was republished meanwhile never reaches it, and the
// hub fills the hole from the stream (on the next message, and on the
// reconnect for a tail with no message after it), with no loss and no
// duplicate.
func TestGapInLiveFlowFilled(t *testing.T) {
	s := natstest.Start(t)
	node := s.Conn()
	js, err := jetstreamOf(node)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHub(node, js, Config{}, testLogger(t))
	t.Cleanup(h.Close)
	writer := newHub(t, s, Config{})
	sub := newSub(10000)
	if _, err := h.Subscribe(ctxT(t), "ticks", sub, nil); err != nil {
		t.Fatal(err)
	}
	var want []uint64
	want = append(want, publishN(t, writer, "ticks", 50)...)
	waitSeqs(t, sub, want)
	for round, tail := range []bool{false, true} {
		cid, err := node.GetClientID()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DisconnectClientByID(cid); err != nil {
			t.Fatal(err)
		}
		// Published while the node is away: republished to nobody.
		want = append(want, publishN(t, writer, "ticks", 40)...)
		if !tail {
			natstest.Eventually(t, 10*time.Second, node.IsConnected, "node did not reconnect")
			want = append(want, publishN(t, writer, "ticks", 10)...)
		}
		waitSeqs(t, sub, want)
		if st := h.Stats(); st.Gaps < uint64(round+1) || st.Filled == 0 {
			t.Fatalf("round %d: the hole was not filled from the stream: %+v", round, st)
		}
	}
	sub.checkBad(t)
}

// TestStreamRecreated: a position of a deleted and recreated stream
// resumes with recovered:false and the live flow; a live subscriber that
// cannot start over follows the new stream from its start.
func TestStreamRecreated(t *testing.T) {
	s := natstest.Start(t)
	_, js := s.JetStream()
	h := newHub(t, s, Config{})
	live := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "feed", live, nil); err != nil {
		t.Fatal(err)
	}
	old := publishN(t, h, "feed", 10)
	waitSeqs(t, live, old)
	before, err := h.StreamStats(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctxT(t), events.StreamChannels); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	fresh := publishN(t, h, "feed", 3)
	if fresh[0] >= old[9] {
		t.Fatalf("the new stream did not start again: %v", fresh)
	}
	waitSeqs(t, live, append(append([]uint64(nil), old...), fresh...))
	if got := h.Stats().Restarted; got != 0 {
		t.Fatalf("restarted %d subscribers that cannot restart", got)
	}
	for _, pos := range []Position{{Seq: old[9], Epoch: before.Epoch}, {Seq: old[9]}} {
		sub := newSub(100)
		res, err := h.Subscribe(ctxT(t), "feed", sub, &pos)
		if err != nil || res.Recovered || res.Epoch == before.Epoch || res.Epoch == "" || sub.count() != 0 {
			t.Fatalf("resume %+v against the new stream: %+v %v, %d messages", pos, res, err, sub.count())
		}
		more := publishN(t, h, "feed", 1)
		waitSeqs(t, sub, more)
		h.Unsubscribe("feed", sub)
	}
}

// TestResumeStorm: 100 resumes at once, at many positions, each get their
// gap in full, create no consumer, and share their stream info requests.
func TestResumeStorm(t *testing.T) {
	s := natstest.Start(t)
	watch := s.Conn()
	var infos atomic.Int64
	if _, err := watch.Subscribe("$JS.API.STREAM.INFO."+events.StreamChannels, func(*nats.Msg) { infos.Add(1) }); err != nil {
		t.Fatal(err)
	}
	_ = watch.Flush()
	writer := newHub(t, s, Config{})
	seqs := publishN(t, writer, "storm", 400)
	_, js := s.JetStream()
	// Generous bounds: the embedded server shares a loaded test machine.
	h := newHub(t, s, Config{PageSize: 64, FetchTimeout: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const clients = 100
	subs := make([]*testSub, clients)
	var wg sync.WaitGroup
	for i := range subs {
		subs[i] = newSub(1000)
		wg.Go(func() {
			res, err := h.Subscribe(ctx, "storm", subs[i], ptr(seqs[i]))
			if err != nil || !res.Recovered {
				t.Errorf("resume %d: %+v %v", i, res, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, sub := range subs {
		checkSeqs(t, sub.seqs(), seqs[i+1:])
	}
	if c := streamConsumers(t, js); c != 0 {
		t.Fatalf("%d consumers after the storm", c)
	}
	t.Logf("%d resumes: %d stream info requests, %d page reads", clients, infos.Load(), h.Stats().PageReads)
	if n := infos.Load(); n > clients/3 {
		t.Fatalf("%d stream info requests for %d resumes: not shared", n, clients)
	}
}

// TestResumeFirstAfterRecreation: the stream is recreated and messages
// stored before any reached the node's running channel; a resume with the
// old epoch answers recovered:false, and the new member gets the new
// stream's messages (the channel moved to the new epoch at once).
func TestResumeFirstAfterRecreation(t *testing.T) {
	s := natstest.Start(t)
	_, js := s.JetStream()
	h := newHub(t, s, Config{})
	writer := newHub(t, s, Config{})
	keep := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "feed", keep, nil); err != nil {
		t.Fatal(err)
	}
	old := publishN(t, writer, "feed", 10)
	waitSeqs(t, keep, old)
	before := h.Epoch()
	if err := js.DeleteStream(ctxT(t), events.StreamChannels); err != nil {
		t.Fatal(err)
	}
	if err := events.Ensure(ctxT(t), js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	sub := newSub(1000)
	res, err := h.Subscribe(ctxT(t), "feed", sub, &Position{Seq: old[9], Epoch: before})
	if err != nil || res.Recovered || res.Epoch == before || res.Seq >= old[9] {
		t.Fatalf("resume against the new stream: %+v %v", res, err)
	}
	fresh := publishN(t, writer, "feed", 3)
	waitSeqs(t, sub, fresh)
	waitSeqs(t, keep, append(append([]uint64(nil), old...), fresh...))
}
