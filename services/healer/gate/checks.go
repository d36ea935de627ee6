package gate

import (
	"fmt"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// resolved: the anomaly resolved meanwhile.
func resolved(_ Limits, c state.Case, s Snapshot) Verdict {
	if !s.Resolved {
		return cont()
	}
	why := "the anomaly resolved before any action"
	if c.Attempts > 0 {
		why = fmt.Sprintf("the anomaly resolved after %d attempts", c.Attempts)
	}
	return finish(events.SkipResolved, why)
}

// panicked: fleet_silent, or more than PanicShare of the fleet silent.
// The cause is likely elsewhere; acting node by node would make it worse.
func panicked(l Limits, _ state.Case, s Snapshot) Verdict {
	silent := s.Anomaly.Kind == events.KindFleetSilent
	if !silent && !safety.Panic(s.Fleet, l.PanicShare) {
		return cont()
	}
	if silent {
		v := finish(events.SkipPanic, "the fleet went silent at once ("+s.Anomaly.Summary+
			"): the cause is likely NATS, the network or the monitor")
		v.Alarm, v.EnterPanic = true, true
		return v
	}
	n := fleet.Count(s.Fleet)
	v := wait(events.SkipPanic, fmt.Sprintf("%d of %d nodes silent, above the panic threshold %.0f%%: the cause is likely elsewhere",
		n.Unhealthy, n.Nodes, l.PanicShare*100), l.Wait)
	v.EnterPanic = true
	return v
}

// maxAge: open longer than MaxAge.
func maxAge(l Limits, _ state.Case, s Snapshot) Verdict {
	if s.Now.Sub(s.Anomaly.DetectedAt) > l.MaxAge {
		return escalate(events.SkipRetryCap, fmt.Sprintf("open for more than %s", l.MaxAge))
	}
	return cont()
}

// hasPolicy: a policy for the anomaly's kind and severity.
func hasPolicy(_ Limits, _ state.Case, s Snapshot) Verdict {
	if s.Policy == nil {
		return finish(events.SkipNoPolicy, fmt.Sprintf("no policy for %s at %s", s.Anomaly.Kind, s.Anomaly.Severity))
	}
	return cont()
}

// paused: the healer is paused.
func paused(l Limits, _ state.Case, s Snapshot) Verdict {
	if s.Paused {
		return wait(events.SkipPaused, "the healer is paused", l.Wait)
	}
	return cont()
}

// handsOff: a node of the anomaly is locked. The nodes are taken in
// order, and the first locked or quarantined decides: a quarantined node
// named before a locked one is the quarantine gate's.
func handsOff(_ Limits, _ state.Case, s Snapshot) Verdict {
	for _, node := range NodeTargets(s.Anomaly) {
		if s.HandsOff[node] {
			return finish(events.SkipHandsOff, "node "+node+" is under a hands-off lock")
		}
		if s.Quarantined[node] {
			break
		}
	}
	return cont()
}

// quarantined: a node of the anomaly is quarantined.
func quarantined(_ Limits, _ state.Case, s Snapshot) Verdict {
	for _, node := range NodeTargets(s.Anomaly) {
		if s.Quarantined[node] {
			return finish(events.SkipFlapping, "node "+node+" is quarantined")
		}
	}
	return cont()
}

// flapping: the node healed FlapHeals times within FlapWindow and fails
// again: drain it, leave it out, escalate. A quarantine the fleet hold
// holds goes on to that gate.
func flapping(l Limits, _ state.Case, s Snapshot) Verdict {
	if !flaps(l, s) || len(held(s)) > 0 {
		return cont()
	}
	why := fmt.Sprintf("healed %d times within %s and failing again", len(safety.Recent(s.Heals, s.Now, l.FlapWindow)), l.FlapWindow)
	v := escalate(events.SkipFlapping, why)
	v.Quarantine = true
	return v
}

func flaps(l Limits, s Snapshot) bool {
	return Liveness(s.Anomaly) && safety.Flapping(s.Heals, s.Now, l.FlapWindow, l.FlapHeals)
}

// fleetHold: a quarantine that would come now (the flap gate's, or the
// policy's next step) of a node the open fleet_degraded names waits: the
// node does not stand out from its peers. A policy's quarantine comes
// only when neither dry-run nor the retry cap stops it first.
func fleetHold(l Limits, c state.Case, s Snapshot) Verdict {
	due := flaps(l, s)
	if step, _, _, ok := Next(c, s); ok && step.Action == events.ActionQuarantine && !s.DryRun && c.Failures < l.RetryCap {
		due = true
	}
	nodes := held(s)
	if !due || len(nodes) == 0 {
		return cont()
	}
	return wait(events.SkipFleetDegraded, fmt.Sprintf("the fleet is degraded as a whole (%s) and %s does not stand out from its peers: no quarantine until it clears",
		s.Degraded.Summary, strings.Join(nodes, ", ")), l.Wait)
}

// held are the anomaly's nodes the open fleet_degraded names.
func held(s Snapshot) []string {
	var out []string
	for _, node := range NodeTargets(s.Anomaly) {
		if safety.FleetHolds(s.Degraded, node) {
			out = append(out, node)
		}
	}
	return out
}

// dryRun: shadow mode; every step is published as what it would do.
func dryRun(_ Limits, _ state.Case, s Snapshot) Verdict {
	if !s.DryRun {
		return cont()
	}
	v := finish(events.SkipDryRun, "dry-run")
	v.DryRun = true
	return v
}

// retryCap: RetryCap failed verifications.
func retryCap(l Limits, c state.Case, _ Snapshot) Verdict {
	if c.Failures >= l.RetryCap {
		return escalate(events.SkipRetryCap, fmt.Sprintf("%d failed verifications", c.Failures))
	}
	return cont()
}

// targets: the step's target set is empty.
func targets(_ Limits, c state.Case, s Snapshot) Verdict {
	step, _, _, ok := Next(c, s)
	if !ok || !acts(step) {
		return cont()
	}
	if ts, why := Targets(s, step); len(ts) == 0 {
		return finish(events.SkipNoTarget, why)
	}
	return cont()
}

// gated returns the step and targets the last three gates hold back: not
// for an attempt resumed after a replica died during it (it passed them
// when it began).
func gated(c state.Case, s Snapshot) (string, []string, bool) {
	step, _, resumed, ok := Next(c, s)
	if !ok || resumed || !acts(step) {
		return "", nil, false
	}
	ts, _ := Targets(s, step)
	return step.Action, ts, true
}

// backoff: (target, action) backs off after its last attempts.
func backoff(l Limits, c state.Case, s Snapshot) Verdict {
	action, ts, ok := gated(c, s)
	if !ok {
		return cont()
	}
	for _, t := range ts {
		a := s.Backoff[BackoffKey(t, action)]
		if w := l.Backoff.Wait(a, s.Now); w > 0 {
			return wait(events.SkipCooldown, fmt.Sprintf("%s on %s backs off for %s after %d attempts",
				action, t, w.Round(time.Millisecond), a.Count), w)
		}
	}
	return cont()
}

// blastRadius: too much of the fleet out after the action. The first
// delivery held by it escalates as well.
func blastRadius(l Limits, c state.Case, s Snapshot) Verdict {
	action, ts, ok := gated(c, s)
	if !ok || !TakesOut(action) {
		return cont()
	}
	for _, t := range ts {
		if why := safety.Blast(s.Fleet, t, l.BlastShare); why != "" {
			v := wait(events.SkipBlast, fmt.Sprintf("%s %s refused: %s", action, t, why), l.Wait)
			v.Alarm = c.LastSkip != events.SkipBlast
			return v
		}
	}
	return cont()
}

// budget: the shared token bucket is empty. The gate reads the level; the
// engine spends the token after the pipeline, and a token another replica
// took in between holds the action as this gate would.
func budget(l Limits, c state.Case, s Snapshot) Verdict {
	if _, _, ok := gated(c, s); !ok {
		return cont()
	}
	if _, ok, w := l.Budget.Take(s.Budget, s.Now); !ok {
		return BudgetSpent(w)
	}
	return cont()
}

// BudgetSpent is the budget gate's verdict: the budget is empty for w.
func BudgetSpent(w time.Duration) Verdict {
	v := wait(events.SkipBudget, "the global action budget is spent", w)
	v.Gate = "budget"
	return v
}
