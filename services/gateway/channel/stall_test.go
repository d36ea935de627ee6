package channel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestResumeBehindRemovedMessage: the live flow handed on a message of the
// channel that the stream no longer holds (an operator deleted it, or
// purged the channel), while the stream's front is still before the gap.
// A resume reads the stream to its end, stops short of the topic's
// position, and must not read the same empty page forever: it answers
// recovered:false within ReplayStall, after every message still stored,
// and the live flow follows.
func TestResumeBehindRemovedMessage(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{PageSize: 3, ReplayStall: 300 * time.Millisecond})
	publishN(t, h, "other", 1) // keeps the stream's first sequence before the gap
	live := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "chat", live, nil); err != nil {
		t.Fatal(err)
	}
	seqs := publishN(t, h, "chat", 10)
	waitSeqs(t, live, seqs)
	_, js := s.JetStream()
	st, err := js.Stream(ctxT(t), events.StreamChannels)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctxT(t), seqs[9]); err != nil {
		t.Fatal(err)
	}
	sub := newSub(1000)
	ctx, cancel := ctxWithTimeout(5 * time.Second)
	defer cancel()
	res, err := h.Subscribe(ctx, "chat", sub, ptr(seqs[1]))
	if err != nil {
		t.Fatalf("resume behind a removed message: %v (stats %+v)", err, h.Stats())
	}
	if res.Recovered || res.Seq < seqs[9] || res.Replayed != 7 {
		t.Fatalf("resume: %+v, want recovered:false at %d or later after 7 messages", res, seqs[9])
	}
	checkSeqs(t, sub.seqs(), seqs[2:9])
	if n := h.Stats().ReplayStalls; n != 1 {
		t.Fatalf("ReplayStalls = %d, want 1", n)
	}
	next := publishN(t, h, "chat", 1)
	waitSeqs(t, sub, append(seqs[2:9:9], next...))
	sub.checkBad(t)
}

// TestReplayStallsCounted: a replay whose client reads nothing ends with
// ErrSlow after ReplayStall, and the hub counts it.
func TestReplayStallsCounted(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{PageSize: 4, ReplayWindow: 4, ReplayStall: 200 * time.Millisecond})
	seqs := publishN(t, h, "chat", 20)
	sub := &stuckSub{}
	ctx, cancel := ctxWithTimeout(5 * time.Second)
	defer cancel()
	_, err := h.Subscribe(ctx, "chat", sub, ptr(seqs[0]-1))
	if err == nil {
		t.Fatal("a replay to a subscriber that reads nothing succeeded")
	}
	natstest.Eventually(t, time.Second, func() bool { return h.Stats().ReplayStalls == 1 },
		"ReplayStalls = %d, want 1", h.Stats().ReplayStalls)
}

// TestReplayGivesUpWithoutNATS: NATS goes away after a replay's first
// page and stays away. The resume ends with ErrUnavailable once reads
// have failed for ReplayStall (the client is told unavailable and
// retries), never waits on, and the hub counts the stall.
func TestReplayGivesUpWithoutNATS(t *testing.T) {
	s := natstest.Start(t)
	const pageSize = 8
	h := newHub(t, s, Config{PageSize: pageSize, FetchTimeout: 200 * time.Millisecond, ReplayStall: time.Second})
	seqs := publishN(t, h, "gap", 3*pageSize)
	sub := &stopAtSub{testSub: newSub(1000), n: pageSize - 1, stop: s.Stop}
	defer s.Restart()
	done := make(chan error, 1)
	go func() {
		_, err := h.Subscribe(context.Background(), "gap", sub, ptr(seqs[0]-1))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("resume without NATS: %v, want ErrUnavailable", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the resume neither progressed nor answered with NATS gone")
	}
	if st := h.Stats(); st.ReplayStalls != 1 || st.ReplayRetries == 0 {
		t.Fatalf("ReplayStalls = %d, ReplayRetries = %d: want 1 and some", st.ReplayStalls, st.ReplayRetries)
	}
	checkSeqs(t, sub.seqs(), seqs[:pageSize-1])
}

// stuckSub is a Paced subscriber whose client reads nothing: every frame
// stays queued.
type stuckSub struct{ n int }

func (s *stuckSub) Deliver([]byte) bool { s.n++; return true }
func (s *stuckSub) Backlog() int        { return s.n }
func (s *stuckSub) Closing() bool       { return false }
