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

// closedBy sums a node's health snapshots since the fault: closes by
// cause, and the peak heap.
func (e *Env) closedBy(node, cause string) (n int, heap uint64) {
	for _, s := range e.Obs.Since(e.Res.FaultAt, isType[*events.Health]) {
		if h := payload[*events.Health](s); h.Node == node {
			n += h.Closed[cause]
			heap = max(heap, h.HeapBytes)
		}
	}
	return n, heap
}

// closeCodes reads the close code of each connection after the node
// closed it.
func closeCodes(conns []*rawConn) map[int]int {
	out := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := c.closeCode(5 * time.Second)
			mu.Lock()
			out[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
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
	var stale int
	closed := waitFor(ctx, 20*time.Second, func() bool { stale, _ = e.closedBy(v, events.CauseStale); return stale >= len(conns) })
	if closed {
		e.Res.RemediateMS = e.Res.since(time.Now())
		e.Res.mark("remediate", "half-open connections closed as stale")
	}
	e.Res.check("closed as stale and counted", closed && len(conns) > 0, "%d stale closes counted for %d half-open connections", stale, len(conns))
	codes := closeCodes(conns)
	e.Res.check("close code 4000 stale", codes[4000] == len(conns), "close codes seen %v", codes)
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
	var closedSlow int
	var heap uint64
	done := waitFor(ctx, 60*time.Second, func() bool { closedSlow, heap = e.closedBy(v, events.CauseSlow); return closedSlow >= len(conns) })
	stopFlood()
	if done {
		e.Res.RemediateMS = e.Res.since(time.Now())
		e.Res.mark("remediate", "slow consumers closed")
	}
	e.Res.check("slow consumers closed", done, "%d slow closes counted for %d connections (%d messages flooded)", closedSlow, len(conns), sent.Load())
	codes := closeCodes(conns)
	e.Res.check("close code 4002 slow_consumer", codes[4002] > 0, "close codes seen %v", codes)
	waitFor(ctx, 6*time.Second, func() bool { return false }) // one more health snapshot
	_, heap = e.closedBy(v, events.CauseSlow)
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
	over := ""
	for _, s := range e.Obs.Since(e.Res.FaultAt, isType[*events.Health]) {
		h := payload[*events.Health](s)
		if l, ok := limit[h.Node]; ok && h.AcceptRate > l {
			over += fmt.Sprintf("%s %.0f/s > %.0f/s; ", h.Node, h.AcceptRate, l)
		}
	}
	e.Res.check("accept rate capped", over == "", "%s", over)
	down := e.Obs.Since(e.Res.FaultAt, openAnomaly("", events.KindNodeDown, events.KindNodeHung))
	e.Res.check("no node tipped over", len(down) == 0, "%d node_down/node_hung anomalies", len(down))
	e.optionalDetect("", events.KindReconnectStorm)
	return nil
}
