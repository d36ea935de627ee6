package channel

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// runSub is a testSub that takes runs (Batcher), as pool.Conn does, and
// records their lengths. The first run waits for first (if set) before
// it is taken: the fan-out is held up and later messages queue behind it.
type runSub struct {
	*testSub
	first chan struct{}
	mu    sync.Mutex
	runs  []int
}

func newRunSub(limit int) *runSub { return &runSub{testSub: newSub(limit)} }

func (s *runSub) DeliverRun(frames [][]byte) bool {
	s.mu.Lock()
	first := len(s.runs) == 0
	s.runs = append(s.runs, len(frames))
	s.mu.Unlock()
	if first && s.first != nil {
		<-s.first
	}
	s.testSub.mu.Lock()
	full := len(s.testSub.frames)+len(frames) > s.limit
	s.testSub.mu.Unlock()
	if full {
		return false // all or none
	}
	for _, f := range frames {
		s.Deliver(f)
	}
	return true
}

func (s *runSub) longest() (longest, runs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.runs {
		longest = max(longest, n)
	}
	return longest, len(s.runs)
}

// TestRunsCarryMessagesThatArriveTogether holds the fan-out up while
// messages are published: those that queued meanwhile reach a Batcher in
// runs (at most runMsgs long), and every subscriber, Batcher or not, gets
// every message once, in order, the last one included.
func TestRunsCarryMessagesThatArriveTogether(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	batcher, plain := newRunSub(10000), newSub(10000)
	batcher.first = make(chan struct{})
	for _, sub := range []Subscriber{batcher, plain} {
		if _, err := h.Subscribe(ctxT(t), "runs", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, js := s.JetStream()
	const n = 300
	var seqs []uint64
	for i := range n {
		ack, err := js.Publish(ctxT(t), events.ChannelSubject("runs"), fmt.Appendf(nil, `{"i":%d}`, i))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ack.Sequence)
		if i == 0 {
			natstest.Eventually(t, 10*time.Second, func() bool { _, r := batcher.longest(); return r == 1 }, "first run not delivered")
		}
	}
	// Every message but the first waits on the subscription.
	h.mu.Lock()
	tp := h.channels["runs"]
	h.mu.Unlock()
	natstest.Eventually(t, 10*time.Second, func() bool {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		pending, _, err := tp.sub.Pending()
		return err == nil && pending >= n-1
	}, "live messages not queued")
	close(batcher.first)
	waitSeqs(t, batcher.testSub, seqs)
	waitSeqs(t, plain, seqs)
	batcher.checkBad(t)
	plain.checkBad(t)
	longest, runs := batcher.longest()
	t.Logf("%d messages in %d runs, the longest %d", n, runs, longest)
	if longest < 2 || longest > runMsgs {
		t.Fatalf("longest run %d, want 2..%d", longest, runMsgs)
	}
}
