package client

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// resumeCase runs a client's frame handling on a subscription at position
// (since, "old") whose resume request is pending, feeding it the frames.
// The subscription was confirmed on an earlier connection (a refusal
// does not end it).
func resumeCase(t *testing.T, since uint64, frames ...[]byte) (*recorder, *Subscription) {
	t.Helper()
	rec := &recorder{}
	c := newClient(Config{URLs: []string{"ws://127.0.0.1:1/ws"}, OnGap: rec.gap})
	go c.dispatch()
	t.Cleanup(c.cancel)
	sub := &Subscription{c: c, channel: "feed", handler: rec.handle,
		ready: make(chan error, 1), done: make(chan struct{})}
	WithPosition(since, "old")(sub)
	sub.readied.Store(true)
	c.mu.Lock()
	c.subs["feed"] = sub
	r := c.subscribeRequest(sub)
	c.mu.Unlock()
	if r.id != 1 || *r.since != since || r.epoch != "old" {
		t.Fatalf("request %+v", r)
	}
	s := newSession(c, "ws://127.0.0.1:1/ws")
	for _, f := range frames {
		s.handle(f)
	}
	s.OnClose(nil, nil)
	return rec, sub
}

func msgFrame(seq uint64) []byte {
	return frame.AppendMessage(nil, "feed", seq, []byte(fmt.Sprintf(`"m%d"`, seq)))
}

func replyFrame(seq uint64, epoch string, recovered bool) []byte {
	return (&frame.Server{Op: frame.OpReply, ID: 1, Channel: "feed", Seq: seq, Epoch: epoch, Recovered: &recovered}).Encode()
}

// TestResumeNewEpochLiveBeforeReply: the stream was recreated, so the
// resume from 50 in the old epoch is answered recovered:false at seq 3 of
// the new one; live messages 4 and 5, sent between the node joining the
// subscription to the live flow and its reply, arrive before the reply.
// They are below the old position yet new: they are delivered after the
// gap, in order, once, and so is what follows.
func TestResumeNewEpochLiveBeforeReply(t *testing.T) {
	rec, sub := resumeCase(t, 50,
		msgFrame(4), msgFrame(5), replyFrame(3, "new", false), msgFrame(5), msgFrame(6))
	eventually(t, 5*time.Second, func() bool { return rec.count() == 3 }, "3 messages, got %d", rec.count())
	seqs, _, gaps, _ := rec.snapshot()
	if !slices.Equal(seqs, []uint64{4, 5, 6}) {
		t.Fatalf("delivered %v, want [4 5 6]", seqs)
	}
	if len(gaps) != 1 || gaps[0].After != 50 {
		t.Fatalf("gaps %+v", gaps)
	}
	if sub.LastSeq() != 6 || sub.Epoch() != "new" || sub.Duplicates() != 1 {
		t.Fatalf("position %d/%q, %d duplicates", sub.LastSeq(), sub.Epoch(), sub.Duplicates())
	}
}

// TestResumeNewEpochMixedBeforeReply: once a message below the position
// is held, later ones are held behind it (6 must not overtake 2) even
// when they are above the old position.
func TestResumeNewEpochMixedBeforeReply(t *testing.T) {
	rec, sub := resumeCase(t, 5,
		msgFrame(2), msgFrame(6), replyFrame(1, "new", false), msgFrame(7))
	eventually(t, 5*time.Second, func() bool { return rec.count() == 3 }, "3 messages, got %d", rec.count())
	seqs, _, gaps, _ := rec.snapshot()
	if !slices.Equal(seqs, []uint64{2, 6, 7}) || len(gaps) != 1 {
		t.Fatalf("delivered %v, gaps %+v", seqs, gaps)
	}
	if sub.LastSeq() != 7 || sub.Duplicates() != 0 {
		t.Fatalf("position %d, %d duplicates", sub.LastSeq(), sub.Duplicates())
	}
}

// TestResumeSameEpochDuplicates: in the same epoch, messages at or below
// the position before the reply are true duplicates and are dropped; the
// replay above it is delivered as it comes.
func TestResumeSameEpochDuplicates(t *testing.T) {
	rec, sub := resumeCase(t, 10,
		msgFrame(9), msgFrame(10), msgFrame(11), msgFrame(11), msgFrame(12),
		replyFrame(12, "old", true), msgFrame(12), msgFrame(13))
	eventually(t, 5*time.Second, func() bool { return rec.count() == 3 }, "3 messages, got %d", rec.count())
	seqs, _, gaps, _ := rec.snapshot()
	if !slices.Equal(seqs, []uint64{11, 12, 13}) || len(gaps) != 0 {
		t.Fatalf("delivered %v, gaps %+v", seqs, gaps)
	}
	if sub.LastSeq() != 13 || sub.Epoch() != "old" || sub.Duplicates() != 4 {
		t.Fatalf("position %d/%q, %d duplicates", sub.LastSeq(), sub.Epoch(), sub.Duplicates())
	}
}

// TestResumeHeldOverflow: past the bound on held messages the rest is not
// kept (the connection is closed and the next one resumes); what was held
// is still settled in order at the reply.
func TestResumeHeldOverflow(t *testing.T) {
	frames := make([][]byte, 0, maxHeld+3)
	for i := range uint64(maxHeld + 1) {
		frames = append(frames, msgFrame(1+i))
	}
	frames = append(frames, replyFrame(0, "new", false), msgFrame(maxHeld+2))
	rec, sub := resumeCase(t, maxHeld+100, frames...)
	eventually(t, 5*time.Second, func() bool { return rec.count() == maxHeld }, "%d messages, got %d", maxHeld, rec.count())
	seqs, _, _, _ := rec.snapshot()
	if seqs[0] != 1 || seqs[len(seqs)-1] != maxHeld || !slices.IsSorted(seqs) {
		t.Fatalf("delivered %d..%d", seqs[0], seqs[len(seqs)-1])
	}
	if sub.LastSeq() != maxHeld {
		t.Fatalf("position %d, want %d (nothing past what was kept)", sub.LastSeq(), maxHeld)
	}
}

// TestResumeRefused: an error answering the resume (retried later) ends
// its holding: what it held is not delivered, and later messages are
// judged as usual.
func TestResumeRefused(t *testing.T) {
	refused := []byte(`{"op":"error","id":1,"code":"unavailable","message":"x"}`)
	rec, sub := resumeCase(t, 10, msgFrame(3), refused, msgFrame(4), msgFrame(11))
	eventually(t, 5*time.Second, func() bool { return rec.count() == 1 }, "1 message")
	seqs, _, _, _ := rec.snapshot()
	if !slices.Equal(seqs, []uint64{11}) || sub.Duplicates() != 1 {
		t.Fatalf("delivered %v, %d duplicates", seqs, sub.Duplicates())
	}
}
