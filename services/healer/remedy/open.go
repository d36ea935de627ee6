package remedy

import (
	"context"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// decision is the work on one delivery of an open anomaly.
type decision struct {
	an  *events.Anomaly
	inc *state.Incident
	pol *policy.Policy
}

func (e *Engine) open(ctx context.Context, an *events.Anomaly) (outcome, error) {
	inc, found, err := e.Store.Incident(ctx, an.ID)
	if err != nil {
		return done, err
	}
	if !found {
		inc = state.Incident{AnomalyID: an.ID, Kind: an.Kind, Target: an.Target, Opened: e.now().UTC()}
	}
	if inc.Done {
		return done, nil // a redelivery after the decision was recorded
	}
	d := &decision{an: an, inc: &inc}
	out, err := e.decide(ctx, d)
	if err != nil {
		return done, err
	}
	return out, e.Store.SaveIncident(ctx, inc)
}

// decide runs the gates in order, then one attempt.
func (e *Engine) decide(ctx context.Context, d *decision) (outcome, error) {
	an := d.an
	if resolved, err := e.isResolved(ctx, an); err != nil || resolved {
		if err != nil {
			return done, err
		}
		why := "the anomaly resolved before any action"
		if d.inc.Attempts > 0 {
			why = fmt.Sprintf("the anomaly resolved after %d attempts", d.inc.Attempts)
		}
		return e.finish(ctx, d, events.SkipResolved, why)
	}
	if out, stop, err := e.panicGate(ctx, d); stop || err != nil {
		return out, err
	}
	if e.now().Sub(an.DetectedAt) > e.cfg.MaxAge {
		return done, e.giveUp(ctx, d, events.SkipRetryCap, fmt.Sprintf("open for more than %s", e.cfg.MaxAge))
	}
	d.pol = e.Policies.Match(an.Kind, an.Severity)
	if d.pol == nil {
		return e.finish(ctx, d, events.SkipNoPolicy, fmt.Sprintf("no policy for %s at %s", an.Kind, an.Severity))
	}
	d.inc.Policy = d.pol.Name
	sw, err := e.Switches(ctx)
	if err != nil {
		return done, err
	}
	if sw.Paused {
		return e.wait(ctx, d, events.SkipPaused, "the healer is paused", e.cfg.Wait)
	}
	if out, stop, err := e.nodeGates(ctx, d); stop || err != nil {
		return out, err
	}
	if sw.DryRun {
		return done, e.dryRun(ctx, d)
	}
	if d.inc.Failures >= e.cfg.RetryCap {
		return done, e.giveUp(ctx, d, events.SkipRetryCap, fmt.Sprintf("%d failed verifications", d.inc.Failures))
	}
	return e.attempt(ctx, d)
}

// panicGate stops everything while too much of the fleet is silent.
func (e *Engine) panicGate(ctx context.Context, d *decision) (outcome, bool, error) {
	nodes := e.Fleet.Snapshot(time.Now())
	silent := d.an.Kind == events.KindFleetSilent
	if !silent && !safety.Panic(nodes, e.cfg.PanicShare) {
		return done, false, e.Store.LeavePanic(ctx)
	}
	s := countOf(nodes)
	why := fmt.Sprintf("%d of %d nodes silent, above the panic threshold %.0f%%: the cause is likely elsewhere",
		s.Unhealthy, s.Nodes, e.cfg.PanicShare*100)
	if silent {
		why = "the fleet went silent at once (" + d.an.Summary + "): the cause is likely NATS, the network or the monitor"
	}
	entered, err := e.Store.EnterPanic(ctx, e.now().UTC())
	if err != nil {
		return done, true, err
	}
	if entered || silent {
		if err := e.escalate(ctx, d, events.SkipPanic, why); err != nil {
			return done, true, err
		}
	}
	if silent {
		d.inc.Done, d.inc.Outcome = true, "escalated"
		return done, true, e.skip(ctx, d, "", events.SkipPanic, why)
	}
	out, err := e.wait(ctx, d, events.SkipPanic, why, e.cfg.Wait)
	return out, true, err
}

// nodeGates: hands-off locks, quarantines and flapping nodes.
func (e *Engine) nodeGates(ctx context.Context, d *decision) (outcome, bool, error) {
	for _, node := range nodeTargets(d.an) {
		if off, err := e.Store.IsHandsOff(ctx, node); err != nil || off {
			if err != nil {
				return done, true, err
			}
			out, err := e.finish(ctx, d, events.SkipHandsOff, "node "+node+" is under a hands-off lock")
			return out, true, err
		}
		if q, err := e.Store.IsQuarantined(ctx, node); err != nil || q {
			if err != nil {
				return done, true, err
			}
			out, err := e.finish(ctx, d, events.SkipFlapping, "node "+node+" is quarantined")
			return out, true, err
		}
	}
	if !liveness(d.an) {
		return done, false, nil
	}
	heals, err := e.Store.Heals(ctx, d.an.Target)
	if err != nil {
		return done, true, err
	}
	if safety.Flapping(heals, e.now(), e.cfg.FlapWindow, e.cfg.FlapHeals) {
		why := fmt.Sprintf("healed %d times within %s and failing again", len(safety.Recent(heals, e.now(), e.cfg.FlapWindow)), e.cfg.FlapWindow)
		return done, true, e.quarantine(ctx, d, why)
	}
	return done, false, nil
}

// finish ends the incident with a skip.
func (e *Engine) finish(ctx context.Context, d *decision, reason, why string) (outcome, error) {
	d.inc.Done, d.inc.Outcome = true, "skipped: "+reason
	return done, e.skip(ctx, d, "", reason, why)
}

// wait publishes the skip once per reason and comes back later.
func (e *Engine) wait(ctx context.Context, d *decision, reason, why string, in time.Duration) (outcome, error) {
	if d.inc.LastSkip != reason {
		if err := e.skip(ctx, d, "", reason, why); err != nil {
			return done, err
		}
		d.inc.LastSkip = reason
	}
	return later(in), nil
}

// giveUp escalates and ends the incident.
func (e *Engine) giveUp(ctx context.Context, d *decision, reason, why string) error {
	d.inc.Done, d.inc.Outcome = true, "escalated: "+reason
	return e.escalate(ctx, d, reason, why)
}

// dryRun publishes what every step would do, and does nothing.
func (e *Engine) dryRun(ctx context.Context, d *decision) error {
	steps := append(append([]policy.Step{}, d.pol.Actions...), d.pol.Then...)
	for i, s := range steps {
		r := e.base(d, s.Action, i+1)
		r.ID = fmt.Sprintf("%s.dry-run", r.ID)
		r.Phase, r.Reason, r.DryRun = events.PhaseSkipped, events.SkipDryRun, true
		r.Params = stepParams(s)
		r.Detail = fmt.Sprintf("would %s %s, then verify %s within %s", s.Action, targetText(d.an, s), s.Verify, s.Deadline)
		if err := e.emit(ctx, r); err != nil {
			return err
		}
	}
	d.inc.Done, d.inc.Outcome = true, "dry-run"
	return nil
}

// liveness: a node that died or hung. Only these count as heals for flap
// detection, and only these are checked for flapping: a node healed of
// them again and again keeps failing.
func liveness(an *events.Anomaly) bool {
	return an.Target != events.FleetTarget && (an.Kind == events.KindNodeDown || an.Kind == events.KindNodeHung)
}
