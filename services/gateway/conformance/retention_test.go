package conformance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// A byte-limited stream drops old messages first. A resume whose gap
// begins before the stream's first message is answered recovered:false
// with nothing of the gap, then the live flow. A position from the future
// is answered recovered:false and the live flow, never silence.
func TestResumeOutsideRetention(t *testing.T) {
	const limit = 256 << 10
	t.Setenv("WSHEAL_CHANNELS_MAX_BYTES", "262144")
	f := startFleet(t, 2)
	ctx := context.Background()
	if err := f.limitBytes(ctx, limit); err != nil {
		t.Fatal(err)
	}
	gone, ahead := "ret:gone", "ret:ahead"
	led := newLedger([]string{gone, ahead})
	pub := func(ch string, n int) {
		t.Helper()
		if err := publishAll(ctx, publishers(f, led, 1, uint64(n), 400, one(ch)), n); err != nil {
			t.Fatal(err)
		}
	}
	pub(gone, 10)
	old := follow(t, f, gone)
	old.connect(0)
	old.caughtUp(led, 10*time.Second)
	since := old.rd.pos[gone].last
	old.w.cut()
	pub(gone, 2000) // about 900 KB: far over the limit
	info, err := f.stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.FirstSeq <= since+1 {
		t.Fatalf("stream first seq %d: the gap after %d did not leave retention (bytes %d)", info.State.FirstSeq, since, info.State.Bytes)
	}
	old.connect(1)
	if old.rd.lost != 1 || old.rd.longest != 0 {
		t.Fatalf("resume from %d, stream now from %d: recovered:false %d times, %d msgs replayed; want one recovered:false and nothing replayed",
			since, info.State.FirstSeq, old.rd.lost, old.rd.longest)
	}
	pub(gone, 5)
	old.caughtUp(led, 10*time.Second)

	future := follow(t, f, ahead)
	future.connect(0)
	future.w.cut()
	future.rd.pos[ahead].last = info.State.LastSeq + 100000 // a position from another deployment
	future.connect(1)
	if future.rd.lost != 1 {
		t.Fatalf("since above the stream's last sequence: recovered:false %d times, want once", future.rd.lost)
	}
	future.rd.pos[ahead].last = future.rd.pos[ahead].start // owed: everything after the first subscribe
	future.rd.pos[ahead].excused = nil
	pub(ahead, 5)
	natstestLive(t, future, led, ahead, 5)
}

// Other channels' traffic turns the byte-limited stream over many times
// while two channels stay quiet: one whose own messages were delivered
// and then evicted, and an empty one. Their connected readers' positions
// follow the stream (pos frames, as docs/protocol.md describes), so after
// a disconnect their resumes are recovered:true with every message
// published meanwhile, exactly once. A reader that was offline while its
// channel's own messages left retention is still answered
// recovered:false with nothing of the gap, then the live flow.
func TestResumeOfAQuietChannelAfterEviction(t *testing.T) {
	f := startFleet(t, 2)
	ctx := context.Background()
	if err := f.limitBytes(ctx, 256<<10); err != nil {
		t.Fatal(err)
	}
	busy, empty, quiet, lost := "ret:busy", "ret:empty", "ret:quiet", "ret:lost"
	led := newLedger([]string{busy, empty, quiet, lost})
	pub := func(ch string, n int) {
		t.Helper()
		if err := publishAll(ctx, publishers(f, led, 1, uint64(n), 400, one(ch)), n); err != nil {
			t.Fatal(err)
		}
	}
	pub(quiet, 3)
	q := follow(t, f, quiet)
	q.connect(0)
	q.caughtUp(led, 10*time.Second)
	e := follow(t, f, empty)
	e.connect(0)
	g := follow(t, f, lost)
	g.connect(1)
	g.w.cut()
	pub(lost, 5) // published while its reader is away, then evicted
	quietLast := led.sorted(quiet)[2].seq
	for round := 0; ; round++ {
		pub(busy, 64) // about a ninth of the stream's bytes
		info, err := f.stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		half := info.State.FirstSeq + (info.State.LastSeq-info.State.FirstSeq)/2
		natstest.Eventually(t, 10*time.Second, func() bool { return q.position(quiet) > half && e.position(empty) > half },
			"round %d: the quiet readers' positions (%d, %d) did not follow the stream past its middle %d",
			round, q.position(quiet), e.position(empty), half)
		if info.State.FirstSeq > quietLast+64 && info.State.FirstSeq > led.sorted(lost)[4].seq {
			break
		}
	}
	q.w.cut()
	e.w.cut()
	pub(quiet, 20)
	pub(empty, 20)
	for _, fl := range []*follower{q, e} {
		fl.connect(1)
		if fl.rd.lost != 0 || fl.rd.longest != 20 {
			t.Errorf("%v: resume of a quiet channel that lost nothing: recovered:false %d times, %d replayed; want recovered:true and the 20 messages",
				fl.rd.chans(), fl.rd.lost, fl.rd.longest)
		}
		fl.caughtUp(led, 10*time.Second)
	}
	g.connect(0)
	if g.rd.lost != 1 || g.rd.longest != 0 {
		t.Fatalf("resume after the channel's own messages left retention: recovered:false %d times, %d replayed; want one recovered:false and nothing replayed",
			g.rd.lost, g.rd.longest)
	}
	before := len(g.rd.pos[lost].log)
	pub(lost, 5)
	natstestLive(t, g, led, lost, before+5)
}

// position is the reader's position on ch.
func (fl *follower) position(ch string) uint64 {
	fl.rd.mu.Lock()
	defer fl.rd.mu.Unlock()
	return fl.rd.pos[ch].last
}

// natstestLive waits until n messages of ch arrived live after a
// recovered:false resume from the future.
func natstestLive(t *testing.T, fl *follower, led *ledger, ch string, n int) {
	t.Helper()
	got := func() int {
		fl.rd.mu.Lock()
		defer fl.rd.mu.Unlock()
		return len(fl.rd.pos[ch].log)
	}
	natstest.Until(t, 10*time.Second, func() bool { return got() >= n }, func() string {
		return fmt.Sprintf("after a resume from the future: %d of %d live messages delivered", got(), n)
	})
	for _, e := range fl.rd.check(led) {
		t.Error(e)
	}
}
