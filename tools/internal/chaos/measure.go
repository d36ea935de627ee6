package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/tools/internal/bench"
)

// sample snapshots the load every 200 ms until the returned func is called.
func (e *Env) sample() func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			s := e.Load.Snapshot()
			e.mu.Lock()
			e.samples = append(e.samples, s)
			e.mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func (e *Env) snapshots() []bench.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]bench.Snapshot(nil), e.samples...)
}

// ok reports whether every client is connected and caught up.
func ok(s bench.Snapshot) bool { return s.Live == s.Conns && s.Missing == 0 }

// awaitClientsSteady waits until every client of the load is connected
// and nothing is missing, for one second in a row.
func (e *Env) awaitClientsSteady(ctx context.Context, timeout time.Duration) error {
	var since time.Time
	var last bench.Snapshot
	reconnects := e.Load.Snapshot().Reconnects
	if waitFor(ctx, timeout, func() bool {
		last = e.Load.Snapshot()
		if !ok(last) || last.Reconnects != reconnects {
			since, reconnects = time.Time{}, last.Reconnects
			return false
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) >= time.Second
	}) {
		return nil
	}
	return fmt.Errorf("%d of %d clients connected, %d deliveries missing after %s", last.Live, last.Conns, last.Missing, timeout)
}

// clientsBack waits for the clients to settle and sets the time until
// every client was back and resumed: the first good sample after the last
// bad one following the fault. It reports whether any client was hit.
func (e *Env) clientsBack(ctx context.Context, timeout time.Duration) bool {
	err := e.awaitClientsSteady(ctx, timeout)
	r := e.Res
	lastBad, back := recovery(e.snapshots(), r.FaultAt)
	switch {
	case err != nil:
		r.check("every client back and resumed", false, "%v", err)
		return true
	case lastBad.IsZero():
		r.check("every client back and resumed", true, "no sample after the fault caught a client away, reconnecting or missing a delivery")
		return false
	}
	r.RecoverMS = r.since(back)
	r.Marks = append(r.Marks, Mark{At: back, Kind: "recovered", Label: "every client back and resumed"})
	r.check("every client back and resumed", true, "after %s", msText(r.RecoverMS))
	return true
}

// recovery finds, in samples after the fault, the last one where a
// client was away, had just reconnected or missed a delivery, and the
// first good one after it.
func recovery(ss []bench.Snapshot, fault time.Time) (lastBad, back time.Time) {
	var prev *bench.Snapshot
	for i := range ss {
		s := &ss[i]
		if s.Time.Before(fault) {
			prev = s
			continue
		}
		if !ok(*s) || (prev != nil && s.Reconnects > prev.Reconnects) {
			lastBad, back = s.Time, time.Time{}
		} else if !lastBad.IsZero() && back.IsZero() {
			back = s.Time
		}
		prev = s
	}
	return lastBad, back
}

// finishLoad stops the load and books its accounting and rates.
func (e *Env) finishLoad(ctx context.Context) {
	rep := e.Load.Stop(ctx)
	r := e.Res
	r.Sent, r.Expected, r.Delivered = rep.Sent, rep.Expected, rep.Delivered
	r.Lost, r.Duplicated, r.OutOfOrder, r.Reconnects = rep.Lost, rep.Duplicated, rep.OutOfOrder, rep.Reconnects
	if r.Status != StatusSkipped {
		r.check("no message lost or duplicated", rep.Lost == 0 && rep.Duplicated == 0 && rep.Sent > 0,
			"sent %d, delivered %d of %d, lost %d, duplicated %d", rep.Sent, rep.Delivered, rep.Expected, rep.Lost, rep.Duplicated)
	}
	r.PeakClientReconnects = peakRate(e.snapshots())
	from := r.FaultAt
	if from.IsZero() {
		from = r.Start
	}
	for _, s := range e.Obs.Since(from, isType[*events.Health]) {
		h := payload[*events.Health](s)
		if h.Node == r.Target {
			continue
		}
		if h.AcceptRate > r.PeakAcceptRate {
			r.PeakAcceptRate, r.PeakAcceptNode = h.AcceptRate, h.Node
		}
		r.AcceptLimit = max(r.AcceptLimit, h.AcceptLimit)
	}
	for node, pts := range e.Obs.Series(from, time.Now()) {
		if node == r.Target {
			continue
		}
		if rate := joinRate(pts); rate > r.PeakJoinRate {
			r.PeakJoinRate, r.PeakJoinNode = rate, node
		}
	}
}

// joinRate is the fastest growth of connections between two heartbeats.
func joinRate(pts []Point) float64 {
	peak := 0.0
	for i := 1; i < len(pts); i++ {
		dt := pts[i].T.Sub(pts[i-1].T).Seconds()
		if d := pts[i].Conns - pts[i-1].Conns; d > 0 && dt >= 0.5 {
			peak = max(peak, float64(d)/dt)
		}
	}
	return peak
}

// peakRate is the most reconnects the clients made within one second.
func peakRate(ss []bench.Snapshot) float64 {
	peak := 0.0
	j := 0
	for i := range ss {
		for j < i && ss[i].Time.Sub(ss[j].Time) > time.Second {
			j++
		}
		if dt := ss[i].Time.Sub(ss[j].Time).Seconds(); dt >= 0.5 {
			peak = max(peak, float64(ss[i].Reconnects-ss[j].Reconnects)/dt)
		}
	}
	return peak
}

func isType[T events.Payload](s Seen) bool { _, ok := events.As[T](s.Ev); return ok }

// evTime is when an event happened: its own time, else its arrival.
func evTime(s Seen) time.Time {
	if !s.Ev.Time.IsZero() {
		return s.Ev.Time
	}
	return s.At
}

// awaitEvent waits for the first event after the fault that keep accepts.
func (e *Env) awaitEvent(ctx context.Context, timeout time.Duration, keep func(Seen) bool) (Seen, bool) {
	var got Seen
	found := waitFor(ctx, timeout, func() bool {
		var ok bool
		got, ok = e.Obs.First(e.Res.FaultAt, keep)
		return ok
	})
	return got, found
}

// openAnomaly matches an anomaly opened on target (of one of kinds).
func openAnomaly(target string, kinds ...string) func(Seen) bool {
	return func(s Seen) bool {
		a := payload[*events.Anomaly](s)
		if a == nil || a.State != events.AnomalyOpen {
			return false
		}
		if len(kinds) > 0 && !contains(kinds, a.Kind) {
			return false
		}
		return target == "" || a.Target == target || contains(a.Nodes, target)
	}
}

// remediation matches a healer decision on target in phase (and action).
func remediation(target, phase string, actions ...string) func(Seen) bool {
	return func(s Seen) bool {
		r := payload[*events.Remediation](s)
		return r != nil && r.Phase == phase && (target == "" || r.Target == target) &&
			(len(actions) == 0 || contains(actions, r.Action)) && !r.DryRun
	}
}

// detected waits for an anomaly on target and books the time to detect.
func (e *Env) detected(ctx context.Context, target string, timeout time.Duration, kinds ...string) (*events.Anomaly, bool) {
	s, found := e.awaitEvent(ctx, timeout, openAnomaly(target, kinds...))
	if !e.Res.check("detected", found, "anomaly on %s within %s", target, timeout) {
		return nil, false
	}
	a := payload[*events.Anomaly](s)
	at := a.DetectedAt
	if at.IsZero() || at.Before(e.Res.FaultAt) {
		at = evTime(s)
	}
	e.Res.DetectMS = e.Res.since(at)
	e.Res.Marks = append(e.Res.Marks, Mark{At: at, Kind: "detect", Label: a.Kind + " on " + a.Target})
	e.Res.Checks[len(e.Res.Checks)-1].Detail = fmt.Sprintf("%s on %s after %s", a.Kind, a.Target, msText(e.Res.DetectMS))
	e.logf("detected: %s on %s after %s", a.Kind, a.Target, msText(e.Res.DetectMS))
	return a, true
}

// remediated waits for a succeeded healer action on target and books
// the time to remediate.
func (e *Env) remediated(ctx context.Context, target string, timeout time.Duration, actions ...string) bool {
	s, found := e.awaitEvent(ctx, timeout, remediation(target, events.PhaseSucceeded, actions...))
	if !e.Res.check("remediated", found, "no %v on %s succeeded within %s", actions, target, timeout) {
		return false
	}
	rm := payload[*events.Remediation](s)
	at := evTime(s)
	e.Res.RemediateMS = e.Res.since(at)
	e.Res.Marks = append(e.Res.Marks, Mark{At: at, Kind: "remediate", Label: rm.Action + " " + rm.Target})
	e.Res.Checks[len(e.Res.Checks)-1].Detail = fmt.Sprintf("%s %s succeeded after %s", rm.Action, rm.Target, msText(e.Res.RemediateMS))
	e.logf("remediated: %s %s after %s", rm.Action, rm.Target, msText(e.Res.RemediateMS))
	return true
}

// nodeBack waits until node beats again, from a process other than oldPID.
func (e *Env) nodeBack(ctx context.Context, node string, oldPID int, timeout time.Duration) bool {
	return waitFor(ctx, timeout, func() bool {
		g, ok := e.Obs.Gateway(node)
		return ok && g.Fresh(time.Now()) && (oldPID == 0 || g.PID != oldPID)
	})
}
