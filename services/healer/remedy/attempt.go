package remedy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/record"
)

// attempt carries out the policy's step for the next attempt (or resumes
// the attempt in flight when a replica died during it), once the case
// passed every gate.
func (e *Engine) attempt(ctx context.Context, d *decision) (outcome, error) {
	c := d.c
	step, n, resumed, _ := gate.Next(*c, d.snap)
	switch step.Action {
	case events.ActionEscalate:
		return done, e.giveUp(ctx, d, "policy", "the policy "+d.pol.Name+" escalates")
	case events.ActionQuarantine:
		return done, e.quarantine(ctx, d, "the policy "+d.pol.Name+" quarantines")
	}
	targets, _ := gate.Targets(d.snap, step)
	if !resumed {
		if ok, w, err := e.Store.TakeToken(ctx, e.cfg.Budget, e.now()); err != nil {
			return done, err
		} else if !ok {
			return e.apply(ctx, d, gate.BudgetSpent(w))
		}
		if err := e.begin(ctx, d, step, targets, n); err != nil {
			return done, err
		}
	}
	began := e.now()
	if resumed && !c.StartedAt.IsZero() {
		began = c.StartedAt
	}
	ok, detail, reason := e.run(ctx, d, step, targets, CommandID(d.an.ID, step.Action, n), n)
	if ctx.Err() != nil {
		return done, ctx.Err()
	}
	c.Current = 0
	if ok {
		e.learn(ctx, d, step, began, ok, "")
		return done, e.succeeded(ctx, d, step, targets, n, detail)
	}
	c.Failures++
	e.learn(ctx, d, step, began, false, reason)
	r := e.base(d, step.Action, n)
	r.Phase, r.Detail, r.Params = events.PhaseFailed, detail, stepParams(step)
	if err := e.emit(ctx, r); err != nil {
		return done, err
	}
	if d.unsupported != "" && step.Action == events.ActionScale && step.Scale < 0 {
		// An idle fleet harms no client: say so once, page nobody.
		d.c.Done, d.c.Outcome = true, "skipped: "+events.SkipUnsupported
		return done, e.skip(ctx, d, step.Action, events.SkipUnsupported, d.unsupported)
	}
	if d.unsupported != "" {
		return done, e.giveUp(ctx, d, events.SkipUnsupported, d.unsupported)
	}
	if c.Failures >= e.cfg.RetryCap {
		return done, e.giveUp(ctx, d, events.SkipRetryCap,
			fmt.Sprintf("%d attempts failed their post-conditions (cap %d)", c.Failures, e.cfg.RetryCap))
	}
	return later(e.cfg.Poll), nil
}

// begin records the attempt durably before acting, then says so.
func (e *Engine) begin(ctx context.Context, d *decision, step policy.Step, targets []string, n int) error {
	c := d.c
	now := e.now().UTC()
	if !policy.IsOrder(c.Order, len(d.pol.Actions)) {
		info := d.choice.Info
		c.Order, c.Choice = d.choice.Order, &info
	}
	if step.Action == events.ActionScale {
		if err := e.beginScale(d, step); err != nil {
			return err
		}
	}
	if c.Requested < n {
		r := e.base(d, step.Action, n)
		r.Phase, r.Params, r.Choice = events.PhaseRequested, stepParams(step), c.Choice
		r.Detail = fmt.Sprintf("%s %s by policy %s", step.Action, strings.Join(targets, ","), d.pol.Name)
		if step.Action == events.ActionScale {
			r.Detail = scaleWhy(d, step)
		}
		if err := e.emit(ctx, r); err != nil {
			return err
		}
		c.Requested = n
	}
	c.Current, c.Attempts, c.StartedAt, c.LastSkip = n, n, now, ""
	c.Tried = append(c.Tried, fmt.Sprintf("%s %s (attempt %d)", step.Action, strings.Join(targets, ","), n))
	if step.Action == events.ActionResize {
		c.Restore, c.RestoreAfter = targets, step.RestoreAfter.D()
	}
	if step.Action != events.ActionScale {
		c.Before = e.identities(targets, e.now())
	}
	if err := e.Store.SaveCase(ctx, *c); err != nil {
		return err
	}
	for _, t := range targets {
		if err := e.Store.RecordAttempt(ctx, e.cfg.Backoff, t, step.Action, now); err != nil {
			return err
		}
	}
	return nil
}

// identities are the process identities of targets as of now.
func (e *Engine) identities(targets []string, now time.Time) map[string]string {
	out := map[string]string{}
	for _, t := range targets {
		if n, ok := e.Fleet.Get(t, now); ok && n.Identity() != "" {
			out[t] = n.Identity()
		}
	}
	return out
}

// run executes a step and waits for its post-condition until its
// deadline; a failure says why in detail and as a record reason
// (record.ReasonError or record.ReasonDeadline).
func (e *Engine) run(ctx context.Context, d *decision, step policy.Step, targets []string, id string, n int) (bool, string, string) {
	since := d.c.StartedAt
	if since.IsZero() {
		since = e.now()
	}
	r := e.base(d, step.Action, n)
	r.ID = id
	r.Phase, r.Params = events.PhaseStarted, stepParams(step)
	r.Deadline = e.now().Add(step.Deadline.D()).UTC()
	if err := e.emit(ctx, r); err != nil {
		return false, err.Error(), record.ReasonError
	}
	actx, cancel := context.WithDeadline(ctx, r.Deadline)
	defer cancel()
	detail, err := e.execute(actx, d, step, targets, id, since)
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			d.unsupported = err.Error()
		}
		return false, fmt.Sprintf("%s failed: %v", step.Action, err), record.ReasonError
	}
	ok, why := e.verify(actx, d, step, targets, since)
	if !ok {
		return false, fmt.Sprintf("%s; post-condition %s not met by the deadline: %s", detail, step.Verify, why), record.ReasonDeadline
	}
	if step.Action == events.ActionRestart {
		for _, t := range targets {
			if n, known := e.Fleet.Get(t, e.now()); known {
				detail += fmt.Sprintf("; %s now runs process %s (was %s)", t, n.Identity(), d.c.Before[t])
			}
		}
	}
	return true, detail, ""
}

// succeeded closes the case, counts the heal and runs the follow-ups.
func (e *Engine) succeeded(ctx context.Context, d *decision, step policy.Step, targets []string, n int, detail string) error {
	r := e.base(d, step.Action, n)
	r.Phase, r.Detail, r.Params = events.PhaseSucceeded, detail, stepParams(step)
	if err := e.emit(ctx, r); err != nil {
		return err
	}
	d.c.Done, d.c.Outcome = true, "succeeded: "+step.Action
	if gate.Liveness(d.an) {
		if err := e.Store.RecordHeal(ctx, d.an.Target, e.now().UTC(), e.cfg.FlapWindow); err != nil {
			return err
		}
	}
	if err := e.Store.SaveCase(ctx, *d.c); err != nil {
		return err
	}
	for i, s := range d.pol.Then {
		if err := e.then(ctx, d, s, i+1); err != nil {
			return err
		}
	}
	return nil
}

// then runs one follow-up step. Blocked by a gate it waits for the gate;
// failed (a rebalance whose moves did not land, say) it tries again after
// the action's backoff, up to RetryCap runs: a follow-up that never ran
// leaves the fleet as the fault left it (the restarted node empty). Each
// try is its own audit record and command id.
func (e *Engine) then(ctx context.Context, d *decision, s policy.Step, i int) error {
	if s.Action == events.ActionEscalate {
		return e.escalate(ctx, d, "policy", "the policy "+d.pol.Name+" escalates after acting")
	}
	base := CommandID(d.an.ID, "then-"+s.Action, i)
	runs, skips := 0, 0
	for try := 1; ; try++ {
		id := base
		if try > 1 {
			id = fmt.Sprintf("%s.try%d", base, try)
		}
		ran, wait, err := e.thenOnce(ctx, d, s, i, id)
		if err != nil || wait < 0 {
			return err
		}
		if ran {
			runs++
		} else {
			skips++
		}
		if runs >= e.cfg.RetryCap || skips >= e.cfg.RetryCap {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// thenOnce makes one try of a follow-up: whether it ran, and a negative
// wait when it is over (succeeded or has no target), else how long to wait
// before the next try.
func (e *Engine) thenOnce(ctx context.Context, d *decision, s policy.Step, i int, id string) (bool, time.Duration, error) {
	v, snap := e.followGates(ctx, d, s)
	r := e.base(d, s.Action, i)
	r.ID, r.Params = id, stepParams(s)
	if v.Kind != gate.Continue {
		r.ID, r.Phase, r.Reason, r.Detail = id+"."+v.Reason, events.PhaseSkipped, v.Reason, v.Why
		if v.Kind == gate.Finish { // no target: nothing to try again
			return false, -1, e.emit(ctx, r)
		}
		return false, max(v.Delay, e.cfg.Poll), e.emit(ctx, r)
	}
	targets, _ := gate.Targets(snap, s)
	for _, t := range targets {
		if err := e.Store.RecordAttempt(ctx, e.cfg.Backoff, t, s.Action, e.now().UTC()); err != nil {
			return true, -1, err
		}
	}
	ok, detail, _ := e.run(ctx, d, s, targets, id, i)
	if ctx.Err() != nil {
		return true, -1, ctx.Err()
	}
	r.Phase, r.Detail = events.PhaseSucceeded, detail
	if !ok {
		r.Phase = events.PhaseFailed
	}
	if err := e.emit(ctx, r); err != nil || ok {
		return true, -1, err
	}
	return true, e.cfg.Poll, nil
}

// followGates passes a follow-up step through the action gates on a fresh
// snapshot and spends its budget token. A read that fails holds the step
// as its gate would (cooldown, budget) and is tried again after Wait: a
// follow-up is not given up for a passing store error.
func (e *Engine) followGates(ctx context.Context, d *decision, s policy.Step) (gate.Verdict, gate.Snapshot) {
	snap, err := e.snapshot(ctx, d.an, *d.c, &s)
	if err != nil {
		return gate.Verdict{Kind: gate.Wait, Reason: events.SkipCooldown, Why: err.Error(), Delay: e.cfg.Wait}, snap
	}
	v := gate.Run(gate.Actions(e.gates), *d.c, snap)
	if v.Kind != gate.Continue {
		return v, snap
	}
	ok, w, err := e.Store.TakeToken(ctx, e.cfg.Budget, e.now())
	if err != nil {
		return gate.Verdict{Kind: gate.Wait, Reason: events.SkipBudget, Why: "the action budget cannot be read: " + err.Error(), Delay: e.cfg.Wait}, snap
	}
	if !ok {
		return gate.BudgetSpent(w), snap
	}
	return v, snap
}
