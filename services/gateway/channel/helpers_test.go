package channel

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// testSub is a Subscriber with a bounded buffer, like a connection's send
// queue.
type testSub struct {
	mu     sync.Mutex
	limit  int
	frames []frame.Server // msg frames
	pos    uint64         // the last pos frame's seq
	marks  int            // pos frames received
	bad    []string
}

func newSub(limit int) *testSub { return &testSub{limit: limit} }

func (s *testSub) Deliver(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) >= s.limit {
		return false
	}
	f, err := frame.DecodeServer(b)
	switch {
	case err == nil && f.Op == frame.OpPosition:
		// A pos frame moves the position forward, past every message
		// received; no message at or below it may follow.
		if f.Seq <= s.pos || len(s.frames) > 0 && f.Seq <= s.frames[len(s.frames)-1].Seq {
			s.bad = append(s.bad, "pos not ahead: "+string(b))
		}
		s.pos = f.Seq
		s.marks++
		return true
	case err != nil || f.Op != frame.OpMessage:
		s.bad = append(s.bad, string(b))
	case f.Seq <= s.pos:
		s.bad = append(s.bad, "msg at or below a pos frame: "+string(b))
	}
	s.frames = append(s.frames, f)
	return true
}

// markCount is the number of pos frames received.
func (s *testSub) markCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.marks
}

// position is the subscriber's position: the later of its last message
// and its last pos frame.
func (s *testSub) position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pos
	if n := len(s.frames); n > 0 {
		p = max(p, s.frames[n-1].Seq)
	}
	return p
}

func (s *testSub) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

func (s *testSub) seqs() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint64, len(s.frames))
	for i, f := range s.frames {
		out[i] = f.Seq
	}
	return out
}

func (s *testSub) snapshot() []frame.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]frame.Server(nil), s.frames...)
}

// checkBad fails the test if the subscriber got an invalid frame.
func (s *testSub) checkBad(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		t.Fatalf("invalid frames: %q", s.bad)
	}
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// newHub starts a hub on its own connection to s, closed at cleanup.
func newHub(t testing.TB, s *natstest.Server, cfg Config) *Hub {
	t.Helper()
	nc, js := s.JetStream()
	h := NewHub(nc, js, cfg, testLogger(t))
	t.Cleanup(h.Close)
	return h
}

// publishN publishes n messages {"i":k} on ch and returns their sequences.
func publishN(t testing.TB, h *Hub, ch string, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, n)
	for i := range n {
		seq, _, err := h.Publish(ctxT(t), "", ch, fmt.Appendf(nil, `{"i":%d}`, i), "")
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		seqs[i] = seq
	}
	return seqs
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ptr(v uint64) *Position { return &Position{Seq: v} }

// waitSeqs waits until sub holds exactly want, in order.
func waitSeqs(t *testing.T, sub *testSub, want []uint64) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, func() bool { return sub.count() >= len(want) },
		"subscriber got %d of %d messages", sub.count(), len(want))
	checkSeqs(t, sub.seqs(), want)
}

func checkSeqs(t *testing.T, got, want []uint64) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			t.Fatalf("got %d messages, want %d; first difference at %d: got %v, want %v",
				len(got), len(want), i, window(got, i), window(want, i))
		}
	}
}

// window is s around i, for failure messages.
func window(s []uint64, i int) []uint64 {
	return s[max(0, min(i-3, len(s))):min(i+4, len(s))]
}

// streamConsumers counts the consumers on the channel stream.
func streamConsumers(t testing.TB, js jetstream.JetStream) int {
	t.Helper()
	st, err := js.Stream(ctxT(t), events.StreamChannels)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return st.CachedInfo().State.Consumers
}

func ctxWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// liveSubs counts the hub's core subscriptions to live subjects.
func liveSubs(h *Hub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, tp := range h.channels {
		tp.mu.Lock()
		if tp.sub != nil && tp.sub.IsValid() {
			n++
		}
		tp.mu.Unlock()
	}
	return n
}

// jetstreamOf is the JetStream context of nc.
func jetstreamOf(nc *nats.Conn) (jetstream.JetStream, error) { return jetstream.New(nc) }
