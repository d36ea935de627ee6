package suite

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Row names of the figures.
const (
	rowMem1    = "idle memory per connection at %d"
	rowMem2    = "idle memory per connection at %d"
	rowFan1    = "fan-out, %d clients on 1 channel"
	rowFanAll  = "fan-out, %d clients on 1 channel"
	rowFanMany = "fan-out, %d clients on %d channels"
	rowAccept  = "accept rate, auth on"
)

var (
	goalMem    = []Goal{{Ref: ProtoGws, Max: 1.3}}
	goalFan    = []Goal{{Ref: ProtoGws, Min: 0.8}, {Ref: ProtoNATS, Min: 1.5}}
	goalP99    = []Goal{{Ref: ProtoGws, Max: 2}, {Ref: ProtoCentrifugo, Max: 0.5}}
	goalAccept = []Goal{{Ref: ProtoGws, Min: 0.7}}
)

// pool of workers holding one server's connections.
type workers []*workerProc

func (ws workers) delivered() uint64 {
	var n uint64
	for _, w := range ws {
		n += w.delivered.Load()
	}
	return n
}

func (ws workers) stop() {
	for _, w := range ws {
		w.stop()
	}
}

// dial starts len(srcs) workers and has them open n connections in all,
// each subscribed to prefix+(index % spread); it returns them and the
// accept rate (connections per second until the last was accepted).
func (r *runner) dial(ctx context.Context, srv *serverProc, kind string, n, base int, srcs []string, prefix string, spread int) (workers, float64, error) {
	var ws workers
	for range srcs {
		w, err := startWorker(r.opts.Exec, r.progress)
		if err != nil {
			ws.stop()
			return nil, 0, err
		}
		ws = append(ws, w)
	}
	per := n / len(srcs)
	reps := make([]Report, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = w.call(ctx, Command{Op: "dial", N: per, URL: srv.ready.WS, Proto: clientProto(kind),
				Token: r.tokenFor(kind), Src: srcs[i], Conc: 64, Base: base + i*per,
				Spread: spread, Prefix: prefix}, 5*time.Minute)
		}()
	}
	wg.Wait()
	ok, slowest := 0, 0.0
	for i, rep := range reps {
		if errs[i] != nil {
			ws.stop()
			return nil, 0, errs[i]
		}
		if rep.Failed > 0 {
			ws.stop()
			return nil, 0, fmt.Errorf("%w: %d of %d connections failed: %s", ErrProc, rep.Failed, per, rep.Err)
		}
		ok += rep.OK
		slowest = max(slowest, rep.ReadyMS)
	}
	return ws, float64(ok) / (slowest / 1000), nil
}

// Source addresses handed out by freshSources: 127.0.0.2 to .254.
const (
	firstSource = 2
	lastSource  = 254
)

// freshSources returns count loopback addresses no figure has dialled
// from lately: they go round 127.0.0.2-254. Closed client sockets wait in
// TIME_WAIT for a minute on the address they left from; a figure that
// dialled 20,000 connections from addresses still full of them found
// connect() searching for free ports (accept rates of 6,000/s fell to
// 800/s in the next round).
func (r *runner) freshSources(count int) []string {
	r.srcMu.Lock()
	defer r.srcMu.Unlock()
	out := make([]string, count)
	for i := range out {
		if r.nextSrc < firstSource || r.nextSrc > lastSource {
			r.nextSrc = firstSource
		}
		out[i] = "127.0.0." + strconv.Itoa(r.nextSrc)
		r.nextSrc++
	}
	return out
}

// roundA measures idle memory, accept rate and fan-out of one server.
func (r *runner) roundA(ctx context.Context, round int, kind string) error {
	p := r.p
	r.logf("round %d: %s: start", round+1, kind)
	srv, err := r.startKind(ctx, kind)
	if err != nil {
		return err
	}
	defer srv.kill()
	time.Sleep(p.Settle / 2)
	rss0, err := RSS(srv.pid())
	if err != nil {
		return err
	}
	stopProfile := func() {}
	if kind == ProtoWsheal && round == 0 && r.opts.ProfileDir != "" {
		stopProfile = r.profile(ctx, srv, "accept", 2*time.Second)
	}
	a, accept, err := r.dial(ctx, srv, kind, p.Idle1, 0, r.freshSources(p.WorkersA), "ch-", p.Channels)
	stopProfile()
	if err != nil {
		return err
	}
	defer a.stop()
	r.res.figure(rowAccept, "conns/s", goalAccept...).add(kind, accept)
	kb1, err := r.perConn(srv, rss0, p.Idle1)
	if err != nil {
		return err
	}
	b, _, err := r.dial(ctx, srv, kind, p.Idle2-p.Idle1, p.Idle1, r.freshSources(p.WorkersB), "ch-", p.Channels)
	if err != nil {
		return err
	}
	kb2, err := r.perConn(srv, rss0, p.Idle2)
	b.stop()
	if err != nil {
		return err
	}
	r.res.figure(fmt.Sprintf(rowMem1, p.Idle1), "KiB", goalMem...).add(kind, kb1)
	r.res.figure(fmt.Sprintf(rowMem2, p.Idle2), "KiB", goalMem...).add(kind, kb2)
	r.logf("round %d: %s: accept %.0f/s, idle %.1f KiB/conn at %d, %.1f at %d", round+1, kind, accept, kb1, p.Idle1, kb2, p.Idle2)
	return r.fanOuts(ctx, round, kind, srv, a)
}

// perConn is the server's RSS growth per connection after a settle.
func (r *runner) perConn(srv *serverProc, rss0 int64, conns int) (float64, error) {
	time.Sleep(r.p.Settle)
	rss, err := RSS(srv.pid())
	if err != nil {
		return 0, err
	}
	return float64(rss-rss0) / 1024 / float64(conns), nil
}

// fanOuts subscribes the connections to the fan-out channels and
// measures the three fan-out figures.
func (r *runner) fanOuts(ctx context.Context, round int, kind string, srv *serverProc, a workers) error {
	p := r.p
	if _, err := a[0].call(ctx, Command{Op: "sub", Channel: "small", First: p.FanSmall}, 2*time.Minute); err != nil {
		return err
	}
	for _, w := range a {
		if _, err := w.call(ctx, Command{Op: "sub", Channel: "all"}, 2*time.Minute); err != nil {
			return err
		}
	}
	many := make([]string, p.Channels)
	for i := range many {
		many[i] = "ch-" + strconv.Itoa(i)
	}
	cases := []struct {
		row      string
		channels []string
		fan      int
		cpuGoals []Goal
	}{
		{fmt.Sprintf(rowFan1, p.FanSmall), []string{"small"}, p.FanSmall, goalFanCPU},
		{fmt.Sprintf(rowFanAll, p.Idle1), []string{"all"}, p.Idle1, goalFanCPU},
		{fmt.Sprintf(rowFanMany, p.Idle1, p.Channels), many, p.Idle1 / p.Channels, nil},
	}
	for i, c := range cases {
		stopProfile := func() {}
		if i == 1 && kind == ProtoWsheal && round == 0 && r.opts.ProfileDir != "" {
			stopProfile = r.profile(ctx, srv, "fanout", p.Warm+p.FanDur)
		}
		pub, err := r.publisherOf(srv, kind, true)
		if err != nil {
			return err
		}
		rate, perCPU, missing := r.fanOut(ctx, pub, srv.pid(), a, c.channels, c.fan)
		pub.close()
		stopProfile()
		r.res.figure(c.row, "msgs/s", goalFan...).add(kind, rate)
		r.res.figure(strings.Replace(c.row, "fan-out", rowFanCPU, 1), "msgs/CPU-s", c.cpuGoals...).add(kind, perCPU)
		r.logf("round %d: %s: %s: %.0f msgs/s, %.0f per server CPU-second (undelivered after drain: %d)", round+1, kind, c.row, rate, perCPU, missing)
	}
	return nil
}

// fanOut publishes to channels (round robin) as fast as the clients
// receive, keeping at most Window frames in flight, and returns the
// delivered messages per second after the warm-up, the same deliveries
// per CPU-second of server process pid, and the deliveries still missing
// after a short drain.
func (r *runner) fanOut(ctx context.Context, pub publisher, pid int, ws workers, channels []string, fan int) (float64, float64, int64) {
	p := r.p
	window := uint64(max(1, p.Window/fan))
	base := ws.delivered()
	var published uint64
	start := time.Now()
	var mStart time.Time
	var mBase, refused uint64
	var cpu *cpuMeter
	for ctx.Err() == nil {
		now := time.Now()
		if mStart.IsZero() && now.Sub(start) >= p.Warm {
			mStart, mBase, cpu = now, ws.delivered(), startCPU(pid)
		}
		if !mStart.IsZero() && now.Sub(mStart) >= p.FanDur {
			break
		}
		got := (ws.delivered() - base) / uint64(fan)
		if published < got+window {
			if err := pub.publish(channels[published%uint64(len(channels))], Payload(now)); err != nil {
				refused++
			}
			published++
			continue
		}
		select {
		case <-r.progress:
		case <-time.After(5 * time.Millisecond):
		}
	}
	got := ws.delivered() - mBase
	rate := float64(got) / time.Since(mStart).Seconds()
	perCPU, err := cpu.perSecond(got)
	if err != nil {
		r.logf("fan-out: %v", err)
	}
	// Only the stored publishes are owed to the clients.
	failed, err := pub.settle(ctx)
	if err != nil {
		r.logf("fan-out: %v", err)
	}
	failed += refused
	if failed > 0 {
		r.logf("fan-out: %d of %d publishes not stored (not counted as sent)", failed, published)
	}
	want := base + (published-min(failed, published))*uint64(fan)
	drain(ws, want)
	return rate, perCPU, int64(want) - int64(ws.delivered())
}

// drain waits until the workers have received want messages in all, or
// nothing arrived for two seconds (at most 30 s): the next measurement
// must not count this one's late deliveries.
func drain(ws workers, want uint64) {
	deadline := time.Now().Add(30 * time.Second)
	last, lastChange := ws.delivered(), time.Now()
	for last < want && time.Now().Before(deadline) && time.Since(lastChange) < 2*time.Second {
		time.Sleep(20 * time.Millisecond)
		if n := ws.delivered(); n != last {
			last, lastChange = n, time.Now()
		}
	}
}

// latencyRate is half of the slowest server's median small fan-out, in
// publishes per second: a load every server carries.
func (r *runner) latencyRate() float64 {
	f := r.res.figure(fmt.Sprintf(rowFan1, r.p.FanSmall), "msgs/s", goalFan...)
	lowest := math.Inf(1)
	for _, s := range Servers {
		if m := Median(f.Values[s]); !math.IsNaN(m) {
			lowest = min(lowest, m)
		}
	}
	if math.IsInf(lowest, 1) {
		return 10
	}
	return max(1, lowest/2/float64(r.p.FanSmall))
}

// roundLatency measures publish-to-deliver latency of one server at rate
// publishes per second to FanSmall clients.
func (r *runner) roundLatency(ctx context.Context, kind string, rate float64) error {
	srv, err := r.startKind(ctx, kind)
	if err != nil {
		return err
	}
	defer srv.kill()
	ws, _, err := r.dial(ctx, srv, kind, r.p.FanSmall, 0, r.freshSources(1), "lat", 1)
	if err != nil {
		return err
	}
	defer ws.stop()
	pub, err := r.publisherOf(srv, kind, false)
	if err != nil {
		return err
	}
	defer pub.close()
	w := ws[0]
	if _, err := w.call(ctx, Command{Op: "lat", On: true}, time.Minute); err != nil {
		return err
	}
	sent := paced(ctx, pub, "lat0", rate, r.p.LatDur)
	want := sent * uint64(r.p.FanSmall)
	drain(ws, want)
	rep, err := w.call(ctx, Command{Op: "hist"}, time.Minute)
	if err != nil {
		return err
	}
	for _, q := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p99", 0.99}, {"p99.9", 0.999}} {
		var goals []Goal
		if q.name == "p99" {
			goals = goalP99
		}
		row := fmt.Sprintf("latency %s at %.0f msgs/s to %d clients", q.name, rate*float64(r.p.FanSmall), r.p.FanSmall)
		r.res.figure(row, "ms", goals...).add(kind, Quantile(rep.Hist, q.q))
	}
	r.logf("latency: %s: p50 %.2f ms, p99 %.2f ms (%d of %d delivered)", kind,
		Quantile(rep.Hist, 0.5), Quantile(rep.Hist, 0.99), rep.Delivered, want)
	return nil
}

// paced publishes at rate per second for d and returns how many it sent.
func paced(ctx context.Context, pub publisher, channel string, rate float64, d time.Duration) uint64 {
	start := time.Now()
	var sent uint64
	for ctx.Err() == nil {
		el := time.Since(start)
		if el >= d {
			break
		}
		due := uint64(el.Seconds()*rate) + 1
		for ; sent < due; sent++ {
			_ = pub.publish(channel, Payload(time.Now()))
		}
		next := time.Duration(float64(sent) / rate * float64(time.Second))
		time.Sleep(max(next-time.Since(start), 0))
	}
	_, _ = pub.settle(ctx)
	return sent
}
