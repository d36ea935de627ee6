package chaos

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// smallFleetClients is the load of the small-fleet scenario.
const smallFleetClients = 60

// hangThenThaw stops a gateway long enough to be restarted, and continues
// the old process as soon as the restart is requested (a hung process
// that thaws, as on a real host): the restart must be verified by the new
// process, which the verify names, and the fleet must end balanced.
func hangThenThaw(ctx context.Context, e *Env) error {
	v, err := e.victim()
	if err != nil {
		return err
	}
	old, _ := e.Obs.Gateway(v)
	p, err := e.Signal(ctx, v, syscall.SIGSTOP)
	if err != nil {
		return err
	}
	thaw := func() { _ = syscall.Kill(p.PID, syscall.SIGCONT) }
	e.onCleanup(func(context.Context) { thaw() })
	e.fault(v, fmt.Sprintf("kill -STOP %s (pid %d, boot %s), continued when its restart is requested", v, p.PID, dash(old.Boot)))
	e.detected(ctx, v, 45*time.Second, events.KindNodeHung, events.KindNodeDown)
	if _, ok := e.awaitEvent(ctx, 60*time.Second, remediation(v, events.PhaseRequested, events.ActionRestart)); ok {
		thaw()
		e.Res.mark("note", "old process "+v+" continued")
	}
	ok := e.remediated(ctx, v, 90*time.Second, events.ActionRestart)
	if ok {
		s, _ := e.Obs.First(e.Res.FaultAt, remediation(v, events.PhaseSucceeded, events.ActionRestart))
		r := payload[*events.Remediation](s)
		g, _ := e.Obs.Gateway(v)
		named := strings.Contains(r.Detail, "now runs process "+g.Boot) && g.Boot != "" && g.Boot != old.Boot
		e.Res.check("the verify names the new process", named, "%s; the node beats with boot %s (was %s)", r.Detail, dash(g.Boot), dash(old.Boot))
	}
	e.Res.check("node back", e.nodeBack(ctx, v, p.PID, 30*time.Second), "%s beating from a new process", v)
	e.balanced(ctx, 90*time.Second)
	e.clientsBack(ctx, 60*time.Second)
	return nil
}

// balanced waits until max/mean connections is within the bound, then
// checks that it stays there (no ping-pong) for 10 s. Only samples that
// count every client counted at the balanced one are judged: the nodes'
// heartbeats are not taken at one instant, and a client between two nodes
// counts on neither, which lowers the mean without any move.
func (e *Env) balanced(ctx context.Context, timeout time.Duration) {
	names := e.GatewayNames(ctx)
	ratio, total := 0.0, 0
	in := waitFor(ctx, timeout, func() bool {
		ratio, total = e.imbalanceOf(names)
		return ratio > 0 && ratio <= balanceBound
	})
	if !e.Res.check("back within the balance bound", in, "max/mean connections %.2f (bound %.1f)", ratio, balanceBound) {
		return
	}
	worst := ratio
	waitFor(ctx, 10*time.Second, func() bool {
		if r, n := e.imbalanceOf(names); n >= total {
			worst = max(worst, r)
		}
		return false
	})
	runs := len(e.Obs.Since(e.Res.FaultAt, remediation("", events.PhaseStarted, events.ActionRebalance)))
	e.Res.check("no ping-pong", worst <= balanceBound && runs <= 2, "max/mean stayed <= %.2f for 10 s; %d rebalance runs", worst, runs)
}

// smallFleet kills a gateway of a fleet serving only 60 clients: it must
// converge to max/mean <= 1.2 after the node returns (the imbalance rule
// is relative to the fleet, with no floor of connections).
func smallFleet(ctx context.Context, e *Env) error {
	v, err := e.victim()
	if err != nil {
		return err
	}
	p, err := e.Signal(ctx, v, syscall.SIGKILL)
	if err != nil {
		return err
	}
	e.fault(v, fmt.Sprintf("kill -9 %s (pid %d) with %d clients on the fleet", v, p.PID, e.Res.Clients))
	e.detected(ctx, v, 45*time.Second, events.KindNodeDown, events.KindNodeHung)
	e.remediated(ctx, v, 90*time.Second, events.ActionRestart)
	e.Res.check("node back", e.nodeBack(ctx, v, p.PID, 30*time.Second), "%s beating again", v)
	e.balanced(ctx, 120*time.Second)
	e.clientsBack(ctx, 60*time.Second)
	return nil
}

// storeFull drives the channel store to its limit with large publishes:
// an anomaly must name it, and healing must keep working (a gateway
// killed while the store is full is restarted).
func storeFull(ctx context.Context, e *Env) error {
	limit := e.limitReported()
	if limit <= 0 {
		return skipf("the gateways report no store or stream limit in Health.DataPlane")
	}
	// As many flood connections as fill the store in about 20 s (1 to 8):
	// retention stays long enough for the load's clients to fill their gaps.
	conns := min(max(int(limit/(20*floodBytesPerConn)), 1), 8)
	v, err := e.victim()
	if err != nil {
		return err
	}
	g, _ := e.Obs.Gateway(v)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	e.fault("store", fmt.Sprintf("16 KiB publishes to chaos-fill (%d connections, %d KiB/s) until the channel store (limit %d KiB) is full",
		conns, conns*floodBytesPerConn>>10, limit>>10))
	sent := e.floodWith(fctx, g.URL, "chaos-fill", conns)
	s, found := e.awaitEvent(ctx, 3*time.Minute, openAnomaly(events.FleetTarget, events.KindStoreFull))
	if e.Res.check("an anomaly names the store", found, "after %d publishes", sent.Load()) {
		a := payload[*events.Anomaly](s)
		e.Res.DetectMS = e.Res.since(evTime(s))
		e.Res.Marks = append(e.Res.Marks, Mark{At: evTime(s), Kind: "detect", Label: "store_full"})
		e.Res.Checks[len(e.Res.Checks)-1].Detail = fmt.Sprintf("%s: %s", a.Evidence.Metric, a.Evidence.Detail)
	}
	// The flood stops: the store stays at its limit (the oldest messages
	// go first), while the load's messages keep within retention.
	stop()
	w, err := e.victim(v)
	if err != nil {
		return err
	}
	p, err := e.Signal(ctx, w, syscall.SIGKILL)
	if err != nil {
		return err
	}
	e.Res.mark("fault", fmt.Sprintf("kill -9 %s while the store is full", w))
	e.Res.Target = w
	e.remediated(ctx, w, 90*time.Second, events.ActionRestart)
	e.Res.check("node back", e.nodeBack(ctx, w, p.PID, 30*time.Second), "%s restarted while the store is full", w)
	if _, cleared := e.Obs.First(e.Res.FaultAt, func(s Seen) bool {
		a := payload[*events.Anomaly](s)
		return a != nil && a.Kind == events.KindStoreFull && a.State == events.AnomalyResolved
	}); cleared {
		e.Res.note("store_full cleared before the restart was verified")
	}
	e.clientsBack(ctx, 60*time.Second)
	return nil
}

// limitReported is the smallest store or stream byte limit in a recent
// health snapshot; 0 when none is reported.
func (e *Env) limitReported() int64 {
	var limit int64
	waitFor(context.Background(), 12*time.Second, func() bool {
		for _, s := range e.Obs.Since(time.Now().Add(-12*time.Second), isType[*events.Health]) {
			dp := payload[*events.Health](s).DataPlane
			for _, l := range []int64{dp.StreamMaxBytes, dp.StoreLimit} {
				if l > 0 && (limit == 0 || l < limit) {
					limit = l
				}
			}
		}
		return limit > 0
	})
	return limit
}
