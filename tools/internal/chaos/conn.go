package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// openRaw opens n raw connections to wsURL, at most par at once; it
// returns those upgraded and counts refusals by status.
func openRaw(ctx context.Context, wsURL string, n, par, rcvBuf int) (conns []*rawConn, refused map[int]int, errs int) {
	var mu sync.Mutex
	refused = map[int]int{}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, status, err := dialRaw(ctx, wsURL, rcvBuf)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				conns = append(conns, c)
			case errors.Is(err, ErrUpgrade):
				refused[status]++
			default:
				errs++
			}
		}()
	}
	wg.Wait()
	return conns, refused, errs
}

func closeRaw(conns []*rawConn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// closeCodes waits up to timeout for the node to close each connection
// and returns the close codes seen (stillOpen for those it did not close)
// and when the last one closed.
func closeCodes(conns []*rawConn, timeout time.Duration) (map[int]int, time.Time) {
	out := map[int]int{}
	var last time.Time
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := c.closeCode(timeout)
			mu.Lock()
			defer mu.Unlock()
			out[code]++
			if code != stillOpen {
				last = time.Now()
			}
		}()
	}
	wg.Wait()
	return out, last
}

// healthSum sums a field of a node's health snapshots since the fault.
func (e *Env) healthSum(node string, field func(*events.Health) int) int {
	n := 0
	for _, s := range e.Obs.Since(e.Res.FaultAt, isType[*events.Health]) {
		if h := payload[*events.Health](s); h.Node == node {
			n += field(h)
		}
	}
	return n
}

// optionalDetect books an anomaly on node if the monitor raised one.
func (e *Env) optionalDetect(node string, kinds ...string) {
	if s, ok := e.Obs.First(e.Res.FaultAt, openAnomaly(node, kinds...)); ok {
		a := payload[*events.Anomaly](s)
		e.Res.DetectMS = e.Res.since(evTime(s))
		e.Res.Marks = append(e.Res.Marks, Mark{At: evTime(s), Kind: "detect", Label: a.Kind + " on " + a.Target})
		e.Res.note("the monitor raised %s on %s (%s)", a.Kind, a.Target, a.Summary)
	}
	if s, ok := e.Obs.First(e.Res.FaultAt, remediation(node, events.PhaseSucceeded)); ok {
		r := payload[*events.Remediation](s)
		e.Res.note("the healer acted: %s %s succeeded", r.Action, r.Target)
	}
}

// halfOpen opens connections that complete the upgrade and then never
// read nor answer a ping: the node must close them as stale within ping
// interval + pong deadline (lowered to 1 s + 1 s for the scenario).
func halfOpen(ctx context.Context, e *Env) error {
	const n = 50
	v, err := e.victim()
	if err != nil {
		return err
	}
	ms := int64(1000)
	if err := e.Resize(ctx, v, events.ResizeCommand{PingIntervalMS: &ms, PongDeadlineMS: &ms}); err != nil {
		return err
	}
	e.onCleanup(func(ctx context.Context) { _ = e.Resize(ctx, v, events.ResizeCommand{Reset: true}) })
	g, _ := e.Obs.Gateway(v)
	conns, refused, errs := openRaw(ctx, g.URL, n, 50, 0)
	e.onCleanup(func(context.Context) { closeRaw(conns) })
	e.fault(v, fmt.Sprintf("%d half-open connections on %s (ping 1s, pong deadline 1s)", len(conns), v))
	if len(conns) < n {
		e.Res.note("%d of %d connections opened (refused %v, %d errors)", len(conns), n, refused, errs)
	}
	codes, last := closeCodes(conns, 20*time.Second)
	closedAll := len(conns) > 0 && codes[stillOpen] == 0
	if closedAll {
		e.Res.RemediateMS = e.Res.since(last)
		e.Res.Marks = append(e.Res.Marks, Mark{At: last, Kind: "remediate", Label: "last half-open connection closed"})
	}
	e.Res.check("every half-open connection closed", closedAll,
		"close codes %v (4000 stale; 4004 a reconnect command, e.g. the healer's for stale connections; -1 still open) after %s",
		codes, msText(e.Res.RemediateMS))
	e.Res.check("within ping interval + pong deadline", closedAll && *e.Res.RemediateMS <= 6000,
		"last closed %s after the fault (ping 1s + deadline 1s, jitter and the check's period: bound 6s)", msText(e.Res.RemediateMS))
	stale := 0
	counted := waitFor(ctx, 12*time.Second, func() bool {
		stale = e.healthSum(v, func(h *events.Health) int { return h.Closed[events.CauseStale] })
		return stale >= codes[4000]
	})
	e.Res.check("counted as stale", counted && stale > 0, "%d stale closes in %s's health snapshots for %d closed with 4000", stale, v, codes[4000])
	e.optionalDetect(v, events.KindStaleSpike)
	return nil
}

// slow subscribes connections that never read to a channel and floods
// it: the node must close them with 4002 and keep its memory bounded.
func slow(ctx context.Context, e *Env) error {
	const n = 5
	v, err := e.victim()
	if err != nil {
		return err
	}
	// A peer that never reads never answers a ping either: a long ping
	// interval keeps the stale check from closing it before its queue
	// fills.
	long := int64(60000)
	if err := e.Resize(ctx, v, events.ResizeCommand{PingIntervalMS: &long, PongDeadlineMS: &long}); err != nil {
		return err
	}
	e.onCleanup(func(ctx context.Context) { _ = e.Resize(ctx, v, events.ResizeCommand{Reset: true}) })
	g, _ := e.Obs.Gateway(v)
	channel := "chaos-slow-" + e.run
	conns, refused, errs := openRaw(ctx, g.URL, n, n, 4096)
	e.onCleanup(func(context.Context) { closeRaw(conns) })
	if len(conns) == 0 {
		return fmt.Errorf("%w: no slow connection opened (refused %v, %d errors)", ErrStack, refused, errs)
	}
	for i, c := range conns {
		if err := c.writeText([]byte(fmt.Sprintf(`{"op":"subscribe","id":%d,"channel":%q}`, i+1, channel))); err != nil {
			return err
		}
	}
	time.Sleep(500 * time.Millisecond) // the subscribes take effect before the flood
	fctx, stopFlood := context.WithCancel(ctx)
	defer stopFlood()
	sent := e.flood(fctx, g.URL, channel)
	e.fault(v, fmt.Sprintf("%d connections that never read subscribed to %s, flooded with 16 KiB messages", len(conns), channel))
	slowN := 0
	cut := waitFor(ctx, 60*time.Second, func() bool {
		slowN = e.healthSum(v, func(h *events.Health) int { return h.SlowConsumers })
		return slowN >= len(conns)
	})
	stopFlood()
	if cut {
		e.Res.RemediateMS = e.Res.since(time.Now())
		e.Res.mark("remediate", "slow consumers cut off")
	}
	e.Res.check("slow consumers cut off", cut, "%d slow consumers in %s's health snapshots for %d connections (%d messages flooded)",
		slowN, v, len(conns), sent.Load())
	codes, _ := closeCodes(conns, 15*time.Second)
	e.Res.check("connections closed", codes[stillOpen] == 0, "close codes %v (4002 slow_consumer; 0 closed without a close frame: a peer that never reads cannot receive it; -1 still open)", codes)
	waitFor(ctx, 6*time.Second, func() bool { return false }) // one more health snapshot
	heap := uint64(0)
	for _, s := range e.Obs.Since(e.Res.FaultAt, isType[*events.Health]) {
		if h := payload[*events.Health](s); h.Node == v {
			heap = max(heap, h.HeapBytes)
		}
	}
	e.Res.check("memory bounded", heap > 0 && heap < 512<<20, "peak heap %d MiB on %s", heap>>20, v)
	e.optionalDetect(v, events.KindSlowConsumers)
	return nil
}

// overload floods one node with connects: admission must answer 503 and
// the node must keep serving.
func overload(ctx context.Context, e *Env) error {
	const n = 1500
	v, err := e.victim()
	if err != nil {
		return err
	}
	g, _ := e.Obs.Gateway(v)
	e.fault(v, fmt.Sprintf("%d connects at once on %s", n, v))
	conns, refused, errs := openRaw(ctx, g.URL, n, 300, 0)
	e.onCleanup(func(context.Context) { closeRaw(conns) })
	e.Res.check("admission answered 503", refused[503] > 0, "%d accepted, %d refused with 503, other refusals %v, %d errors",
		len(conns), refused[503], refused, errs)
	waitFor(ctx, 12*time.Second, func() bool { return false }) // let the monitor and healer see it
	alive := func() bool { g, ok := e.Obs.Gateway(v); return ok && g.Fresh(time.Now()) }()
	down := e.Obs.Since(e.Res.FaultAt, openAnomaly(v, events.KindNodeDown, events.KindNodeHung))
	e.Res.check("node kept serving", alive && len(down) == 0, "%s beating: %v, down/hung anomalies: %d", v, alive, len(down))
	e.optionalDetect(v, events.KindSaturation, events.KindReconnectStorm)
	closeRaw(conns)
	return nil
}

// storm makes every client of every node reconnect at once.
func storm(ctx context.Context, e *Env) error {
	names := e.GatewayNames(ctx)
	limit := map[string]float64{}
	for _, n := range names {
		if st, err := e.GatewayStatus(ctx, n); err == nil {
			limit[n] = st.Settings.AcceptRate + float64(st.Settings.AcceptBurst)/5
		}
	}
	e.fault("all", "reconnect every client of every node at once (over_ms 0)")
	var selected atomic.Int64
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := e.Reconnect(ctx, n, events.ReconnectCommand{Select: events.SelectAll})
			if err == nil {
				selected.Add(int64(rep.Selected))
			}
		}()
	}
	wg.Wait()
	e.logf("%d clients told to reconnect", selected.Load())
	e.clientsBack(ctx, 60*time.Second)
	waitFor(ctx, 6*time.Second, func() bool { return false }) // the storm's health snapshot
	over, peak, peakNode := "", 0.0, ""
	for _, s := range e.Obs.Since(e.Res.FaultAt, isType[*events.Health]) {
		h := payload[*events.Health](s)
		if h.AcceptRate > peak {
			peak, peakNode = h.AcceptRate, h.Node
		}
		if l, ok := limit[h.Node]; ok && h.AcceptRate > l {
			over += fmt.Sprintf("%s %.0f/s > %.0f/s; ", h.Node, h.AcceptRate, l)
		}
	}
	e.Res.check("accept rate capped", over == "", "peak %.1f/s on %s; cap (accept rate + burst over a 5 s snapshot) %v %s",
		peak, peakNode, limit, over)
	down := e.Obs.Since(e.Res.FaultAt, openAnomaly("", events.KindNodeDown, events.KindNodeHung))
	e.Res.check("no node tipped over", len(down) == 0, "%d node_down/node_hung anomalies", len(down))
	e.optionalDetect("", events.KindReconnectStorm)
	return nil
}
