package conformance

import (
	"context"
	"testing"
	"time"
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

// Other channels' traffic has pushed the stream's first sequence past
// the position of a quiet channel (here: an empty one, position 0; or
// one whose last message was evicted). The stream is shared, so the node
// cannot tell whether a message of this channel was among those evicted:
// docs/protocol.md promises the conservative answer, recovered:false with
// nothing of the gap, then the live flow — never silence and never a
// silent partial replay.
func TestResumeOfAQuietChannelAfterEviction(t *testing.T) {
	f := startFleet(t, 2)
	ctx := context.Background()
	if err := f.limitBytes(ctx, 256<<10); err != nil {
		t.Fatal(err)
	}
	busy, empty, quiet := "ret:busy", "ret:empty", "ret:quiet"
	led := newLedger([]string{busy, empty, quiet})
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
	pub(busy, 2000) // evicts the quiet channel's 3 messages, already delivered
	e := follow(t, f, empty)
	e.connect(0)
	q.w.cut()
	e.w.cut()
	pub(quiet, 20)
	pub(empty, 20)
	for name, fl := range map[string]*follower{"empty channel": e, "quiet channel": q} {
		ch := quiet
		if fl == e {
			ch = empty
		}
		fl.connect(1)
		if fl.rd.lost != 1 || fl.rd.longest != 0 {
			t.Errorf("%s: position evicted from the shared stream: recovered:false %d times, %d replayed; want one recovered:false and nothing replayed",
				name, fl.rd.lost, fl.rd.longest)
			continue
		}
		// The reader excused the gap up to the reply; the live flow after
		// it is owed.
		before := len(fl.rd.pos[ch].log)
		pub(ch, 5)
		natstestLive(t, fl, led, ch, before+5)
	}
}

// natstestLive waits until n messages of ch arrived live after a
// recovered:false resume from the future.
func natstestLive(t *testing.T, fl *follower, led *ledger, ch string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fl.rd.mu.Lock()
		got := len(fl.rd.pos[ch].log)
		fl.rd.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a resume from the future: %d of %d live messages delivered", got, n)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	for _, e := range fl.rd.check(led) {
		t.Error(e)
	}
}
