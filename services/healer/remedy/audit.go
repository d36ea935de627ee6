package remedy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
)

// CommandID derives the id of an action on an anomaly at an attempt. The
// same anomaly, action and attempt always give the same id, so a command
// repeated by a replica that took over is done once by the node. Ids
// longer than the contract allows are shortened with a hash.
func CommandID(anomalyID, action string, attempt int) string {
	id := fmt.Sprintf("%s.%s.%d", anomalyID, action, attempt)
	if len(id) <= 100 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return fmt.Sprintf("%s.%s.%d", hex.EncodeToString(sum[:12]), action, attempt)
}

// base is a remediation of action on the anomaly's target at attempt.
func (e *Engine) base(d *decision, action string, attempt int) events.Remediation {
	target := d.an.Target
	if action == events.ActionRebalance || action == events.ActionEscalate && target == "" {
		target = events.FleetTarget
	}
	return events.Remediation{
		ID:        CommandID(d.an.ID, action, attempt),
		AnomalyID: d.an.ID,
		Kind:      d.an.Kind,
		Action:    action,
		Target:    target,
		Attempt:   attempt,
	}
}

// emit publishes a decision on its audit subject through JetStream.
func (e *Engine) emit(ctx context.Context, r events.Remediation) error {
	if _, err := e.Emitter.Emit(ctx, events.RemediationSubject(r.Action, r.Target), &r); err != nil {
		return err
	}
	if e.Observe != nil {
		e.Observe(r)
	}
	e.log.Info().Str("action", r.Action).Str("target", r.Target).Str("phase", r.Phase).
		Str("reason", r.Reason).Int("attempt", r.Attempt).Str("detail", r.Detail).Msg("remediation")
	return nil
}

// skip publishes a skipped decision; action "" means the policy's next one.
func (e *Engine) skip(ctx context.Context, d *decision, action, reason, why string) error {
	n := d.c.Attempts + 1
	if action == "" {
		action = events.ActionEscalate
		if d.pol != nil {
			action = d.pol.StepFor(n).Action
		}
	}
	r := e.base(d, action, n)
	r.ID += "." + reason
	r.Phase, r.Reason, r.Detail = events.PhaseSkipped, reason, why
	return e.emit(ctx, r)
}

// escalate hands the incident to the notifier with what was tried.
func (e *Engine) escalate(ctx context.Context, d *decision, reason, why string) error {
	r := e.base(d, events.ActionEscalate, 0)
	r.ID = CommandID(d.an.ID, events.ActionEscalate, 0) + "." + reason
	r.Phase, r.Reason, r.Escalate, r.Attempt = events.PhaseSucceeded, reason, true, d.c.Attempts
	tried := "nothing"
	if len(d.c.Tried) > 0 {
		tried = strings.Join(d.c.Tried, ", ")
	}
	r.Detail = why + "; tried: " + tried
	r.Params = map[string]any{"tried": d.c.Tried, "failures": d.c.Failures, "summary": d.an.Summary, "severity": d.an.Severity}
	if d.pol != nil {
		r.Params["policy"] = d.pol.Name
	}
	return e.emit(ctx, r)
}

// stepParams are the parameters of a step, as published.
func stepParams(s policy.Step) map[string]any {
	p := map[string]any{"verify": s.Verify, "deadline": s.Deadline.String()}
	set := func(k string, v any, ok bool) {
		if ok {
			p[k] = v
		}
	}
	set("select", s.Select, s.Select != "")
	set("fraction", s.Fraction, s.Fraction != 0)
	set("count", s.Count, s.Count != 0)
	set("over", s.Over.String(), s.Over != 0)
	set("max_conns_factor", s.MaxConnsFactor, s.MaxConnsFactor != 0)
	set("accept_rate", s.AcceptRate, s.AcceptRate != 0)
	set("restore_after", s.RestoreAfter.String(), s.RestoreAfter != 0)
	set("bound", s.Bound, s.Bound != 0)
	set("wave_fraction", s.WaveFraction, s.WaveFraction != 0)
	set("url", s.URL, s.URL != "")
	set("step", s.Scale, s.Scale != 0)
	return p
}

func targetText(an *events.Anomaly, s policy.Step) string {
	if s.Action == events.ActionRebalance {
		return "the fleet"
	}
	if s.Action == events.ActionScale {
		return fmt.Sprintf("the fleet by %+d node", s.Scale)
	}
	ns := gate.NodeTargets(an)
	if len(ns) == 0 {
		return "no node (empty target set)"
	}
	return "node " + strings.Join(ns, ", ")
}
