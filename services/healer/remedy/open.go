package remedy

import (
	"context"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/state"
)

// decision is the work on one delivery of an open anomaly.
type decision struct {
	an   *events.Anomaly
	c    *state.Case
	pol  *policy.Policy // once the policy gate passed, its ladder in the case's order
	snap gate.Snapshot
	// choice is the order of the ladder and why (gate.Ladder).
	choice gate.Choice
	// moved counts the clients the attempt asked to move (its side effect).
	moved int
	// unsupported: the executor cannot carry out the action here; the case
	// escalates instead of retrying.
	unsupported string
}

// open handles one delivery of an open anomaly: read the case and the
// snapshot once, run the pipeline, carry out its verdict, save the case.
func (e *Engine) open(ctx context.Context, an *events.Anomaly) (outcome, error) {
	c, found, err := e.Store.Case(ctx, an.ID)
	if err != nil {
		return done, err
	}
	if !found {
		c = state.Case{AnomalyID: an.ID, Kind: an.Kind, Target: an.Target, Opened: e.now().UTC()}
	}
	if c.Done {
		return done, nil // a redelivery after the decision was recorded
	}
	snap, err := e.snapshot(ctx, an, c, nil)
	if err != nil {
		return done, err
	}
	d := &decision{an: an, c: &c, snap: snap}
	out, err := e.apply(ctx, d, gate.Run(e.gates, c, snap))
	if err != nil {
		return done, err
	}
	return out, e.Store.SaveCase(ctx, c)
}

// apply carries out a verdict of the pipeline: the one place where the
// gates' decisions become events and writes.
func (e *Engine) apply(ctx context.Context, d *decision, v gate.Verdict) (outcome, error) {
	if v.Passed("panic") && d.snap.Panicking {
		if err := e.Store.LeavePanic(ctx); err != nil {
			return done, err
		}
	}
	if v.Passed("policy") {
		d.pol, d.choice = gate.Ladder(*d.c, d.snap)
		d.c.Policy = d.pol.Name
	}
	if err := e.alarm(ctx, d, v); err != nil {
		return done, err
	}
	switch v.Kind {
	case gate.Finish:
		if v.DryRun {
			return done, e.dryRun(ctx, d)
		}
		d.c.Done, d.c.Outcome = true, "skipped: "+v.Reason
		if v.Alarm {
			d.c.Outcome = "escalated"
		}
		return done, e.skip(ctx, d, "", v.Reason, v.Why)
	case gate.Wait:
		return e.wait(ctx, d, v.Reason, v.Why, v.Delay)
	case gate.Escalate:
		if v.Quarantine {
			return done, e.quarantine(ctx, d, v.Why)
		}
		return done, e.giveUp(ctx, d, v.Reason, v.Why)
	}
	return e.attempt(ctx, d)
}

// alarm escalates for a verdict that says so: with an alarm, or for the
// delivery that entered the shared panic state.
func (e *Engine) alarm(ctx context.Context, d *decision, v gate.Verdict) error {
	alarm := v.Alarm
	if v.EnterPanic {
		entered, err := e.Store.EnterPanic(ctx, e.now().UTC())
		if err != nil {
			return err
		}
		alarm = alarm || entered
	}
	if !alarm {
		return nil
	}
	return e.escalate(ctx, d, v.Reason, v.Why)
}

// wait publishes the skip once per reason and comes back later.
func (e *Engine) wait(ctx context.Context, d *decision, reason, why string, in time.Duration) (outcome, error) {
	if d.c.LastSkip != reason {
		if err := e.skip(ctx, d, "", reason, why); err != nil {
			return done, err
		}
		d.c.LastSkip = reason
	}
	return later(in), nil
}

// giveUp escalates and ends the case.
func (e *Engine) giveUp(ctx context.Context, d *decision, reason, why string) error {
	d.c.Done, d.c.Outcome = true, "escalated: "+reason
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
	d.c.Done, d.c.Outcome = true, "dry-run"
	return nil
}
