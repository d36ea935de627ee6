package conformance

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// follower is one reader on one connection at a time, driven by the test.
type follower struct {
	t      *testing.T
	rcvbuf int // receive buffer of its connections (0: the system's)
	f      *fleet
	rd     *reader
	w      *wire
	tok    *int
}

func follow(t *testing.T, f *fleet, chans ...string) *follower {
	return &follower{t: t, f: f, rd: newReader(chans)}
}

// connect opens a connection to node i and (re)subscribes every channel.
func (fl *follower) connect(i int) {
	fl.t.Helper()
	tok := new(int)
	w, err := dialWire(fl.f.nodes[i].Addr(), fl.rcvbuf, func(f in) { fl.rd.handle(tok, f) })
	if err != nil {
		fl.t.Fatalf("dial: %v", err)
	}
	fl.w, fl.tok = w, tok
	fl.t.Cleanup(w.cut)
	if err := fl.rd.subscribe(w, tok); err != nil {
		fl.t.Fatal(err)
	}
	pending := func() map[uint64]subReq {
		fl.rd.mu.Lock()
		defer fl.rd.mu.Unlock()
		return maps.Clone(fl.rd.subs)
	}
	natstest.Until(fl.t, 60*time.Second, func() bool { return len(pending()) == 0 }, func() string {
		return fmt.Sprintf("subscribes unanswered (msgs replayed so far, close code %d): %+v", w.code.Load(), pending())
	})
	fl.fail()
}

func (fl *follower) fail() {
	fl.t.Helper()
	fl.rd.mu.Lock()
	defer fl.rd.mu.Unlock()
	for _, e := range fl.rd.errs {
		fl.t.Error(e)
	}
}

// caughtUp waits until every acknowledged message is delivered, then
// checks the whole log.
func (fl *follower) caughtUp(led *ledger, within time.Duration) {
	fl.t.Helper()
	natstest.Eventually(fl.t, within, func() bool { return fl.rd.caughtUp(led) }, "reader never caught up")
	for _, e := range fl.rd.check(led) {
		fl.t.Error(e)
	}
}

func one(ch string) func(*rand.Rand) string { return func(*rand.Rand) string { return ch } }

// Ten minutes offline at 100 msg/s is 60,000 messages; they are
// published as fast as the node takes them. The resume, on another node,
// must replay all of them (recovered:true), then the live flow.
func TestResumeAfterTenMinutesOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 60,000 messages")
	}
	const gap = 60000
	f := startFleet(t, 2)
	ch := "offline:room-1"
	led := newLedger([]string{ch})
	ctx := context.Background()
	if err := publishAll(ctx, publishers(f, led, 1, 1, 100, one(ch)), 10); err != nil {
		t.Fatal(err)
	}
	fl := follow(t, f, ch)
	fl.connect(0)
	fl.w.cut()
	start := time.Now()
	if err := publishAll(ctx, publishers(f, led, 4, 2, 100, one(ch)), gap); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages published in %v", gap, time.Since(start))
	start = time.Now()
	fl.connect(1)
	t.Logf("resume answered in %v: %d resumes, longest replay %d, recovered:false %d",
		time.Since(start), fl.rd.resumes, fl.rd.longest, fl.rd.lost)
	if fl.rd.lost != 0 {
		t.Fatalf("resume of a %d-message gap answered recovered:false", gap)
	}
	if err := publishAll(ctx, publishers(f, led, 1, 3, 100, one(ch)), 10); err != nil {
		t.Fatal(err)
	}
	fl.caughtUp(led, 30*time.Second)
	if fl.rd.longest != gap {
		all := led.sorted(ch)
		t.Errorf("%d of the %d replayed messages arrived before the subscribe reply (reply.seq %d, last delivered before it %d, gap ends at %d); the document says all do",
			fl.rd.longest, gap, fl.rd.answer[0], fl.rd.answer[1], all[len(all)-11].seq)
	}
}

// A reader slower than its channel is cut off (4002) once its send queue
// is full; it reconnects elsewhere, resumes, and misses nothing.
func TestSlowReaderCutOffResumes(t *testing.T) {
	f := startFleet(t, 2)
	ch := "slow:room-1"
	led := newLedger([]string{ch})
	fl := follow(t, f, ch)
	fl.rcvbuf = 8192
	fl.connect(0)
	w := fl.w
	w.pace.Store(int64(3 * time.Millisecond))
	if err := publishAll(context.Background(), publishers(f, led, 2, 4, 4000, one(ch)), 3000); err != nil {
		t.Fatal(err)
	}
	// The node cuts it off with 4002 (its metrics say why it closed). The
	// close frame may wait behind frames the client has not read, but the
	// document bounds how long the socket may outlive the close (about a
	// second; 5 s here): the client sees its connection end, close frame
	// or not.
	const bound = 5 * time.Second
	var n int
	var err error
	natstest.Until(t, 30*time.Second, func() bool {
		n, err = f.slowCloses(0)
		return err == nil && n == 1
	}, func() string {
		return fmt.Sprintf("a reader at 3 ms a message under 3,000 messages of 4 KB was never cut off: %d slow closes (%v)", n, err)
	})
	select {
	case <-w.closed:
	case <-time.After(bound):
		t.Fatalf("the node closed the slow reader (4002), but its socket had not ended %v later", bound)
	}
	t.Logf("close code seen by the client: %d", w.code.Load())
	start := time.Now()
	fl.rcvbuf = 0 // back to a normal reader
	fl.connect(1)
	t.Logf("resume of %d messages answered in %v", fl.rd.longest, time.Since(start))
	fl.caughtUp(led, 60*time.Second)
	if fl.rd.lost != 0 {
		t.Fatal("the resume after 4002 answered recovered:false")
	}
}

// The same idem on two channels names two messages: both are stored and
// delivered. On one channel it still deduplicates, and anonymous clients
// of one channel share one scope.
func TestIdemIsPerChannel(t *testing.T) {
	f := startFleet(t, 1)
	a, b := "idem:a", "idem:b"
	fl := follow(t, f, a, b)
	fl.connect(0)
	replies := make(chan in, 16)
	pub := func() *wire {
		w, err := dialWire(f.nodes[0].Addr(), 0, func(x in) { replies <- x })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.cut)
		return w
	}
	x, y := pub(), pub()
	ask := func(w *wire, ch string, id uint64) in {
		t.Helper()
		if _, err := w.send(out{Op: "publish", Channel: ch, Data: payload(id, ""), Idem: "c7-2"}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-replies:
			if r.Op != "reply" {
				t.Fatalf("publish on %s: %+v", ch, r)
			}
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("publish on %s: no reply", ch)
		}
		return in{}
	}
	led := newLedger([]string{a, b})
	ra := ask(x, a, 1)
	rb := ask(y, b, 2)
	if ra.Duplicate || rb.Duplicate || ra.Seq == 0 || rb.Seq == 0 || ra.Seq == rb.Seq {
		t.Fatalf("same idem on two channels: replies %+v and %+v, want two stored messages", ra, rb)
	}
	led.ack(a, ra.Seq, 1, false)
	led.ack(b, rb.Seq, 2, false)
	if again := ask(x, a, 1); !again.Duplicate || again.Seq != ra.Seq {
		t.Fatalf("retry on %s: %+v, want duplicate:true seq %d", a, again, ra.Seq)
	}
	if other := ask(y, a, 3); !other.Duplicate || other.Seq != ra.Seq {
		t.Fatalf("another anonymous client, same channel and key: %+v, want duplicate:true seq %d", other, ra.Seq)
	}
	fl.caughtUp(led, 10*time.Second)
}
