package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// balanceBound is the healer's rebalance bound: max/mean connections.
const balanceBound = 1.2

// rolling drains, restarts and waits for each gateway in turn; the fleet
// must end balanced (the healer's rebalance may act) and lose nothing.
func rolling(ctx context.Context, e *Env) error {
	names := e.GatewayNames(ctx)
	e.fault("all", fmt.Sprintf("rolling restart of %v", names))
	prev := ""
	for _, n := range names {
		g, _ := e.Obs.Gateway(n)
		e.logf("drain %s (%d connections)", n, g.Connections)
		drain := events.DrainCommand{ID: e.id("drain"), OverMS: 3000, Target: prev, Reason: "rolling restart"}
		if _, err := call(ctx, e.Stack, events.CtlGatewayDrain, n, drain); err != nil {
			return err
		}
		drained := waitFor(ctx, 30*time.Second, func() bool { g, ok := e.Obs.Gateway(n); return ok && g.Connections == 0 })
		e.Res.check("drained "+n, drained, "no connections left on %s", n)
		if _, err := e.Restart(ctx, n); err != nil {
			return err
		}
		back := e.nodeBack(ctx, n, g.PID, 30*time.Second)
		if gg, _ := e.Obs.Gateway(n); gg.Draining {
			_ = e.Undrain(ctx, n)
		}
		back = back && waitFor(ctx, 15*time.Second, func() bool { g, ok := e.Obs.Gateway(n); return ok && g.Fresh(time.Now()) && !g.Draining })
		e.Res.check("restarted "+n, back, "%s beating again, accepting", n)
		e.Res.mark("note", "restarted "+n)
		prev = n
	}
	e.Res.RemediateMS = e.Res.since(time.Now())
	ratio := 0.0
	balanced := waitFor(ctx, 45*time.Second, func() bool { ratio = e.imbalance(names); return ratio <= balanceBound })
	if !balanced {
		_, healerActed := e.Obs.First(e.Res.FaultAt, remediation("", events.PhaseStarted, events.ActionRebalance))
		e.Res.note("max/mean %.2f after 45s; the healer rebalanced: %v (the monitor raises imbalance only above its enter ratio); moving clients with reconnect commands, as the restart procedure's last step", ratio, healerActed)
		e.rebalance(ctx, names)
		balanced = waitFor(ctx, 60*time.Second, func() bool { ratio = e.imbalance(names); return ratio <= balanceBound })
	}
	e.Res.check("ended balanced", balanced, "max/mean connections %.2f (bound %.1f)", ratio, balanceBound)
	down := e.Obs.Since(e.Res.FaultAt, openAnomaly("", events.KindNodeDown, events.KindNodeHung))
	e.Res.check("no node reported down", len(down) == 0, "%d node_down/node_hung anomalies for clean restarts", len(down))
	e.clientsBack(ctx, 60*time.Second)
	return nil
}

// imbalance is max/mean of the nodes' connections (from heartbeats).
func (e *Env) imbalance(names []string) float64 {
	r, _ := e.imbalanceOf(names)
	return r
}

// imbalanceOf is imbalance and the connections it counted.
func (e *Env) imbalanceOf(names []string) (float64, int) {
	total, hi := 0, 0
	for _, n := range names {
		g, _ := e.Obs.Gateway(n)
		total += g.Connections
		hi = max(hi, g.Connections)
	}
	if total == 0 {
		return 0, 0
	}
	return float64(hi) / (float64(total) / float64(len(names))), total
}

// rebalance moves the excess of each node above the mean to the
// coldest node, paced over 3 s.
func (e *Env) rebalance(ctx context.Context, names []string) {
	total, cold, coldN := 0, "", -1
	for _, n := range names {
		g, _ := e.Obs.Gateway(n)
		total += g.Connections
		if coldN < 0 || g.Connections < coldN {
			cold, coldN = n, g.Connections
		}
	}
	mean := total / len(names)
	for _, n := range names {
		g, _ := e.Obs.Gateway(n)
		if excess := g.Connections - mean; excess > 0 && n != cold {
			rep, err := e.Reconnect(ctx, n, events.ReconnectCommand{Select: events.SelectAll, Count: excess, Target: cold, OverMS: 3000})
			e.logf("reconnect %d of %s towards %s: selected %d (%v)", excess, n, cold, rep.Selected, err)
		}
	}
}
