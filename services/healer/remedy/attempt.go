package remedy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/safety"
)

// attempt carries out the policy's step for the next attempt (or resumes
// the attempt in flight when a replica died during it).
func (e *Engine) attempt(ctx context.Context, d *decision) (outcome, error) {
	inc := d.inc
	resumed := inc.Current != 0
	n := inc.Current
	if !resumed {
		n = inc.Attempts + 1
	}
	step := d.pol.StepFor(n)
	switch step.Action {
	case events.ActionEscalate:
		return done, e.giveUp(ctx, d, "policy", "the policy "+d.pol.Name+" escalates")
	case events.ActionQuarantine:
		return done, e.quarantine(ctx, d, "the policy "+d.pol.Name+" quarantines")
	}
	targets, why := e.targetsOf(ctx, d, step)
	if len(targets) == 0 {
		return e.finish(ctx, d, events.SkipNoTarget, why)
	}
	if !resumed {
		if reason, why, in := e.gates(ctx, d, step, targets); reason != "" {
			if reason == events.SkipBlast && inc.LastSkip != reason {
				if err := e.escalate(ctx, d, reason, why); err != nil {
					return done, err
				}
			}
			return e.wait(ctx, d, reason, why, in)
		}
		if err := e.begin(ctx, d, step, targets, n); err != nil {
			return done, err
		}
	}
	ok, detail := e.run(ctx, d, step, targets, CommandID(d.an.ID, step.Action, n), n)
	if ctx.Err() != nil {
		return done, ctx.Err()
	}
	inc.Current = 0
	if ok {
		return done, e.succeeded(ctx, d, step, targets, n, detail)
	}
	inc.Failures++
	r := e.base(d, step.Action, n)
	r.Phase, r.Detail, r.Params = events.PhaseFailed, detail, stepParams(step)
	if err := e.emit(ctx, r); err != nil {
		return done, err
	}
	if inc.Failures >= e.cfg.RetryCap {
		return done, e.giveUp(ctx, d, events.SkipRetryCap,
			fmt.Sprintf("%d attempts failed their post-conditions (cap %d)", inc.Failures, e.cfg.RetryCap))
	}
	return later(e.cfg.Poll), nil
}

// begin records the attempt durably before acting, then says so.
func (e *Engine) begin(ctx context.Context, d *decision, step policy.Step, targets []string, n int) error {
	inc := d.inc
	now := e.now().UTC()
	if inc.Requested < n {
		r := e.base(d, step.Action, n)
		r.Phase, r.Params = events.PhaseRequested, stepParams(step)
		r.Detail = fmt.Sprintf("%s %s by policy %s", step.Action, strings.Join(targets, ","), d.pol.Name)
		if err := e.emit(ctx, r); err != nil {
			return err
		}
		inc.Requested = n
	}
	inc.Current, inc.Attempts, inc.StartedAt, inc.LastSkip = n, n, now, ""
	inc.Tried = append(inc.Tried, fmt.Sprintf("%s %s (attempt %d)", step.Action, strings.Join(targets, ","), n))
	if step.Action == events.ActionResize {
		inc.Restore, inc.RestoreAfter = targets, step.RestoreAfter.D()
	}
	inc.Before = e.identities(targets, time.Now())
	if err := e.Store.SaveIncident(ctx, *inc); err != nil {
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

// gates are the per-action brakes: backoff, blast radius, budget. It
// returns the reason to wait ("" to go), why, and for how long.
func (e *Engine) gates(ctx context.Context, d *decision, step policy.Step, targets []string) (string, string, time.Duration) {
	now := e.now()
	for _, t := range targets {
		a, err := e.Store.Backoff(ctx, t, step.Action)
		if err != nil {
			return events.SkipCooldown, err.Error(), e.cfg.Wait
		}
		if w := e.cfg.Backoff.Wait(a, now); w > 0 {
			return events.SkipCooldown, fmt.Sprintf("%s on %s backs off for %s after %d attempts", step.Action, t, w.Round(time.Millisecond), a.Count), w
		}
	}
	if takesOut(step.Action) {
		nodes := e.Fleet.Snapshot(time.Now())
		for _, t := range targets {
			if why := safety.Blast(nodes, t, e.cfg.BlastShare); why != "" {
				return events.SkipBlast, fmt.Sprintf("%s %s refused: %s", step.Action, t, why), e.cfg.Wait
			}
		}
	}
	ok, w, err := e.Store.TakeToken(ctx, e.cfg.Budget, now)
	if err != nil {
		return events.SkipBudget, "the action budget cannot be read: " + err.Error(), e.cfg.Wait
	}
	if !ok {
		return events.SkipBudget, "the global action budget is spent", w
	}
	return "", "", 0
}

// takesOut: actions that put a node out of service while they run.
func takesOut(action string) bool {
	return action == events.ActionDrain || action == events.ActionRestart || action == events.ActionQuarantine
}

// run executes a step and waits for its post-condition until its deadline.
func (e *Engine) run(ctx context.Context, d *decision, step policy.Step, targets []string, id string, n int) (bool, string) {
	since := d.inc.StartedAt
	if since.IsZero() {
		since = time.Now()
	}
	r := e.base(d, step.Action, n)
	r.ID = id
	r.Phase, r.Params = events.PhaseStarted, stepParams(step)
	r.Deadline = time.Now().Add(step.Deadline.D()).UTC()
	if err := e.emit(ctx, r); err != nil {
		return false, err.Error()
	}
	actx, cancel := context.WithDeadline(ctx, r.Deadline)
	defer cancel()
	detail, err := e.execute(actx, d, step, targets, id, since)
	if err != nil {
		return false, fmt.Sprintf("%s failed: %v", step.Action, err)
	}
	ok, why := e.verify(actx, d, step, targets, since)
	if !ok {
		return false, fmt.Sprintf("%s; post-condition %s not met by the deadline: %s", detail, step.Verify, why)
	}
	if step.Action == events.ActionRestart {
		for _, t := range targets {
			if n, known := e.Fleet.Get(t, time.Now()); known {
				detail += fmt.Sprintf("; %s now runs process %s (was %s)", t, n.Identity(), d.inc.Before[t])
			}
		}
	}
	return true, detail
}

// succeeded closes the incident, counts the heal and runs the follow-ups.
func (e *Engine) succeeded(ctx context.Context, d *decision, step policy.Step, targets []string, n int, detail string) error {
	r := e.base(d, step.Action, n)
	r.Phase, r.Detail, r.Params = events.PhaseSucceeded, detail, stepParams(step)
	if err := e.emit(ctx, r); err != nil {
		return err
	}
	d.inc.Done, d.inc.Outcome = true, "succeeded: "+step.Action
	if liveness(d.an) {
		if err := e.Store.RecordHeal(ctx, d.an.Target, e.now().UTC(), e.cfg.FlapWindow); err != nil {
			return err
		}
	}
	if err := e.Store.SaveIncident(ctx, *d.inc); err != nil {
		return err
	}
	for i, s := range d.pol.Then {
		if err := e.then(ctx, d, s, i+1); err != nil {
			return err
		}
	}
	return nil
}

// then runs one follow-up step once; blocked or failed, it says so and
// moves on.
func (e *Engine) then(ctx context.Context, d *decision, s policy.Step, i int) error {
	id := CommandID(d.an.ID, "then-"+s.Action, i)
	if s.Action == events.ActionEscalate {
		return e.escalate(ctx, d, "policy", "the policy "+d.pol.Name+" escalates after acting")
	}
	targets, why := e.targetsOf(ctx, d, s)
	r := e.base(d, s.Action, i)
	r.ID, r.Params = id, stepParams(s)
	if len(targets) == 0 {
		r.ID, r.Phase, r.Reason, r.Detail = id+"."+events.SkipNoTarget, events.PhaseSkipped, events.SkipNoTarget, why
		return e.emit(ctx, r)
	}
	if reason, why, _ := e.gates(ctx, d, s, targets); reason != "" {
		r.ID, r.Phase, r.Reason, r.Detail = id+"."+reason, events.PhaseSkipped, reason, why
		return e.emit(ctx, r)
	}
	for _, t := range targets {
		if err := e.Store.RecordAttempt(ctx, e.cfg.Backoff, t, s.Action, e.now().UTC()); err != nil {
			return err
		}
	}
	ok, detail := e.run(ctx, d, s, targets, id, i)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.Phase, r.Detail = events.PhaseSucceeded, detail
	if !ok {
		r.Phase = events.PhaseFailed
	}
	return e.emit(ctx, r)
}
