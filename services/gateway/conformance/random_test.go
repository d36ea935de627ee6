package conformance

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// shape is the size of a randomized run.
type shape struct {
	clients, channels int
	total             int           // messages to publish (0: for soak)
	soak              time.Duration // publish for this long instead
	maxGap            int           // longest disconnect, in messages of the channel
	pad               int           // payload padding in bytes
	busyPad           int           // padding on the busy channel, where readers stall
}

// bounded is the size `make test` runs: about a minute with -race on two
// shared cores. Soak (WSHEAL_SOAK=<duration>, make soak) is larger and
// reaches gaps of 50,000 messages.
var bounded = shape{clients: 24, channels: 8, total: 10000, maxGap: 5000, pad: 200, busyPad: 4000}

func soakShape(d time.Duration) shape {
	return shape{clients: 240, channels: 120, soak: d, maxGap: 50000, pad: 200, busyPad: 4000}
}

// runSeed is WSHEAL_E2E_SEED, or a fresh seed.
func runSeed(t *testing.T) uint64 {
	if s := os.Getenv("WSHEAL_E2E_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WSHEAL_E2E_SEED=%q: %v", s, err)
		}
		return v
	}
	return rand.Uint64()
}

func TestRandomizedDataPlane(t *testing.T) {
	sh := bounded
	if s := os.Getenv("WSHEAL_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("WSHEAL_SOAK=%q: %v", s, err)
		}
		sh = soakShape(d)
	} else if testing.Short() {
		t.Skip("the randomized fleet run is not short")
	}
	seed := runSeed(t)
	t.Logf("seed %d (WSHEAL_E2E_SEED=%d reproduces the choices), shape %+v", seed, seed, sh)

	f := startFleet(t, 3)
	chans := channelNames("e2e", sh.channels)
	led := newLedger(chans)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chaos := make(chan struct{})   // closed when publishing is over
	started := make(chan struct{}) // closed when publishing starts

	actors := make([]*actor, sh.clients)
	var wg sync.WaitGroup
	for i := range actors {
		actors[i] = newActor(f, led, sh, chans, rand.New(rand.NewPCG(seed, uint64(i)+100)))
		actors[i].started = started
		wg.Go(func() { actors[i].run(ctx, chaos) })
	}
	natstest.Eventually(t, 30*time.Second, func() bool {
		for _, a := range actors {
			if !a.ready() {
				return false
			}
		}
		return true
	}, "clients never all subscribed")

	pubs := publishers(f, led, 3, seed, sh.pad, func(r *rand.Rand) string {
		if r.IntN(2) == 0 {
			return chans[0]
		}
		return chans[r.IntN(len(chans))]
	})
	for _, p := range pubs {
		// Big frames on the busy channel: a stalled reader's socket
		// buffers fill after a few hundred and its send queue overflows.
		p.pads = map[string]string{chans[0]: padding(sh.busyPad)}
	}
	killed := make(chan struct{})
	go killMidRun(ctx, f, led, sh, killed)
	pctx, pcancel := context.WithTimeout(ctx, max(sh.soak, time.Hour))
	if sh.soak > 0 {
		pctx, pcancel = context.WithTimeout(ctx, sh.soak)
	}
	close(started)
	err := publishAll(pctx, pubs, sh.total)
	pcancel()
	close(chaos)
	if err != nil {
		t.Fatal(err)
	}
	caughtUp(t, actors, led, 8*time.Minute)
	cancel()
	wg.Wait()
	slow := 0
	for i := range 2 { // the survivors
		n, err := f.slowCloses(i)
		if err != nil {
			t.Error(err)
		}
		slow += n
	}
	t.Logf("the surviving nodes closed %d connections as slow consumers", slow)
	report(t, led, actors, killed)
}

// stuckAfter is how long a client that has not caught up may go without a
// frame before the run calls it stuck: well past REPLAY_STALL (15 s), the
// longest a node may leave a resume without progress or an answer.
const stuckAfter = 60 * time.Second

// caughtUp waits until every client is connected and has delivered every
// acknowledged message of its channels. A loaded machine makes replays
// slow, not wrong: the wait goes on while the laggards receive frames, and
// fails when one of them has received nothing for stuckAfter (a resume
// left without progress and without an answer) or after within in all. On
// failure it names the laggards.
func caughtUp(t *testing.T, actors []*actor, led *ledger, within time.Duration) {
	t.Helper()
	start := time.Now()
	seen := make([]int, len(actors))
	moved := make([]time.Time, len(actors))
	for i := range moved {
		moved[i] = start
	}
	var behind, stuck []int // indexes of actors; lines are written only on failure
	lines := func(idx []int) string {
		var b strings.Builder
		for _, i := range idx {
			a := actors[i]
			fmt.Fprintf(&b, "client %d (connected %v, last frame %v ago): %s\n", i, a.connected.Load(),
				time.Since(moved[i]).Round(time.Second), a.rd.lag(led))
		}
		return b.String()
	}
	natstest.Until(t, within, func() bool {
		behind, stuck = behind[:0], stuck[:0]
		for i, a := range actors {
			if n := a.rd.progress(); n != seen[i] {
				seen[i], moved[i] = n, time.Now()
			}
			if !a.connected.Load() || !a.rd.caughtUp(led) {
				behind = append(behind, i)
				if time.Since(moved[i]) > stuckAfter {
					stuck = append(stuck, i)
				}
			}
		}
		if len(stuck) > 0 {
			t.Fatalf("%d clients received nothing for %v without catching up (%d behind in all):\n%s",
				len(stuck), stuckAfter, len(behind), lines(stuck))
		}
		return len(behind) == 0
	}, func() string {
		return fmt.Sprintf("%d clients never caught up with every acknowledged message:\n%s", len(behind), lines(behind))
	})
	t.Logf("every client caught up %v after publishing ended", time.Since(start).Round(time.Millisecond))
}

// killMidRun crashes the third node once 40% of the run is published.
func killMidRun(ctx context.Context, f *fleet, led *ledger, sh shape, killed chan struct{}) {
	start := time.Now()
	for ctx.Err() == nil {
		if sh.total > 0 && led.total.Load() >= int64(sh.total)*4/10 || sh.soak > 0 && time.Since(start) > sh.soak*4/10 {
			f.kill(2)
			close(killed)
			return
		}
		time.Sleep(10 * time.Millisecond) // polls the ledger
	}
}

func report(t *testing.T, led *ledger, actors []*actor, killed chan struct{}) {
	t.Helper()
	var deliveries, drops, resumes, lost, cutoffs, vanished, longest, stalls, gaps int
	for i, a := range actors {
		for _, e := range a.rd.check(led) {
			t.Errorf("client %d: %s", i, e)
		}
		a.rd.mu.Lock()
		for _, p := range a.rd.pos {
			deliveries += len(p.log)
		}
		drops, resumes, lost = drops+a.rd.drops, resumes+a.rd.resumes, lost+a.rd.lost
		longest = max(longest, a.rd.longest)
		a.rd.mu.Unlock()
		cutoffs += int(a.cutoffs.Load())
		vanished += int(a.vanished.Load())
		stalls += int(a.stalls.Load())
		gaps += int(a.gaps.Load())
	}
	for _, e := range led.errs {
		t.Error(e)
	}
	t.Logf("published %d acknowledged (%d retries answered duplicate); %d deliveries, %d duplicates dropped by clients; "+
		"%d disconnects, %d stalls, %d closed by a node with 4002 and %d without a close frame, %d resumes (longest replay %d msgs), %d recovered:false",
		led.total.Load(), led.dups.Load(), deliveries, drops, gaps, stalls, cutoffs, vanished, resumes, longest, lost)
	select {
	case <-killed:
	default:
		t.Error("the node kill never happened")
	}
	if lost > 0 {
		t.Errorf("%d resumes answered recovered:false though every gap was inside retention (1 h, no byte limit)", lost)
	}
}

// actor drives one reader: connect through discovery, subscribe, and
// while publishing lasts, disconnect for random gaps or stall reading.
type actor struct {
	f         *fleet
	led       *ledger
	sh        shape
	r         *rand.Rand
	rd        *reader
	first     string
	slow      bool
	started   <-chan struct{} // no disconnects or stalls before publishing starts
	connected atomic.Bool
	cutoffs   atomic.Int64 // closed by the node with 4002
	vanished  atomic.Int64 // closed by the node without a close frame (a crash, or a full socket)
	stalls    atomic.Int64
	gaps      atomic.Int64
}

func newActor(f *fleet, led *ledger, sh shape, chans []string, r *rand.Rand) *actor {
	a := &actor{f: f, led: led, sh: sh, r: r, slow: r.IntN(4) == 0}
	mine := []string{chans[r.IntN(len(chans))]}
	if a.slow || r.IntN(3) == 0 {
		mine[0] = chans[0] // the busy channel: long gaps and real backpressure
	}
	for range r.IntN(3) {
		if c := chans[r.IntN(len(chans))]; c != mine[0] {
			mine = append(mine, c)
		}
	}
	a.first = mine[0]
	a.rd = newReader(mine)
	return a
}

func (a *actor) ready() bool {
	a.rd.mu.Lock()
	defer a.rd.mu.Unlock()
	for _, p := range a.rd.pos {
		if !p.started {
			return false
		}
	}
	return a.connected.Load()
}

func (a *actor) run(ctx context.Context, chaos <-chan struct{}) {
	for ctx.Err() == nil {
		tok := new(int)
		giveUp := make(chan struct{}, 1)
		w, err := a.f.connect(a.r, 0, func(f in) {
			if a.rd.handle(tok, f) {
				select {
				case giveUp <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			time.Sleep(time.Duration(10+a.r.IntN(40)) * time.Millisecond) // backoff with jitter
			continue
		}
		if err := a.rd.subscribe(w, tok); err != nil {
			w.cut()
			continue
		}
		a.connected.Store(true)
		a.session(ctx, chaos, w, giveUp)
		a.connected.Store(false)
		time.Sleep(time.Duration(a.r.IntN(30)) * time.Millisecond) // reconnect jitter
	}
}

// session lasts until the connection ends.
func (a *actor) session(ctx context.Context, chaos <-chan struct{}, w *wire, giveUp chan struct{}) {
	defer w.cut()
	for {
		next := time.After(time.Duration(200+a.r.IntN(800)) * time.Millisecond)
		select {
		case <-ctx.Done():
			return
		case <-giveUp:
			return
		case <-w.closed:
			switch w.code.Load() {
			case 4002:
				a.cutoffs.Add(1)
			case -1:
				a.vanished.Add(1)
			}
			return
		case <-next:
			if done(chaos) || !done(a.started) {
				continue
			}
			switch n := a.r.IntN(10); {
			case n < 4:
				a.gaps.Add(1)
				w.cut()
				a.await(ctx, chaos, a.gap(), time.Hour)
				return
			case n < 6 && a.slow:
				a.stalls.Add(1)
				release := w.stall()
				a.await(ctx, chaos, 700+a.r.IntN(1300), time.Hour)
				release()
			}
		}
	}
}

// gap is a disconnect length in messages: 0 one time in ten, else
// log-uniform up to maxGap.
func (a *actor) gap() int {
	if a.r.IntN(10) == 0 {
		return 0
	}
	return int(math.Exp(a.r.Float64() * math.Log(float64(a.sh.maxGap+1))))
}

// await waits until n more messages of the first channel are stored,
// publishing is over, or limit passes.
func (a *actor) await(ctx context.Context, chaos <-chan struct{}, n int, limit time.Duration) {
	until := a.led.count(a.first) + int64(n)
	deadline := time.Now().Add(limit)
	for a.led.count(a.first) < until && !done(chaos) && ctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polls the ledger
	}
}

func done(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
