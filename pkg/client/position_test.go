package client

import (
	"slices"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

func posFrame(seq uint64) []byte { return frame.AppendPosition(nil, "feed", seq) }

// TestPositionFrames: a pos frame moves the position forward once the
// resume is answered (one that arrives while it is pending, or one behind
// the position, changes nothing); messages at or below the position are
// duplicates; a frame of an unknown op is skipped.
func TestPositionFrames(t *testing.T) {
	rec, sub := resumeCase(t, 10,
		posFrame(40), replyFrame(12, "old", true),
		posFrame(30), msgFrame(25), []byte(`{"op":"future","channel":"feed","seq":99}`),
		msgFrame(31), posFrame(20))
	eventually(t, 5*time.Second, func() bool { return rec.count() == 1 }, "1 message, got %d", rec.count())
	seqs, _, gaps, _ := rec.snapshot()
	if !slices.Equal(seqs, []uint64{31}) || len(gaps) != 0 {
		t.Fatalf("delivered %v, gaps %+v", seqs, gaps)
	}
	if sub.LastSeq() != 31 || sub.Duplicates() != 1 {
		t.Fatalf("position %d, %d duplicates; want 31, 1", sub.LastSeq(), sub.Duplicates())
	}
	c := sub.c
	c.mu.Lock()
	r := c.subscribeRequest(sub)
	c.mu.Unlock()
	if *r.since != 31 {
		t.Fatalf("next resume from %d, want 31", *r.since)
	}
}
