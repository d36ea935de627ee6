package remedy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/rebalance"
	"github.com/wsheal/wsheal/services/healer/safety"
)

var blastCheck = safety.Blast

// verify polls the step's post-condition until it holds or ctx ends.
func (e *Engine) verify(ctx context.Context, d *decision, s policy.Step, targets []string, since time.Time) (bool, string) {
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	for {
		ok, why := e.holds(ctx, d, s, targets, since)
		if ok {
			return true, ""
		}
		select {
		case <-ctx.Done():
			return false, why
		case <-t.C:
		}
	}
}

// holds checks a post-condition once; when not, it says why.
func (e *Engine) holds(ctx context.Context, d *decision, s policy.Step, targets []string, since time.Time) (bool, string) {
	switch s.Verify {
	case policy.VerifyNone:
		return true, ""
	case policy.VerifyAnomalyResolved:
		ok, err := e.isResolved(ctx, d.an)
		if err != nil {
			return false, err.Error()
		}
		return ok, "the anomaly is still open"
	case policy.VerifyScaled:
		return scaled(s, e.Fleet.Snapshot(e.now()), d.c.Before, d.c.Removing, since)
	case policy.VerifyBalanced:
		ratio, _ := rebalance.Ratio(e.loads(ctx)())
		bound := s.Bound
		if bound == 0 {
			bound = 1.2
		}
		return ratio <= bound, fmt.Sprintf("max/mean %.2f above %.2f", ratio, bound)
	}
	now := e.now()
	for _, id := range targets {
		n, known := e.Fleet.Get(id, now)
		if ok, why := nodeHolds(s.Verify, n, known, since); !ok {
			return false, id + ": " + why
		}
		if ok, why := newProcess(s.Action, d.c.Before[id], n); !ok {
			return false, id + ": " + why
		}
	}
	return true, ""
}

// newProcess: a restart holds only once the node's heartbeats come from a
// process other than the one before the action (a thawed old process
// beats again, and must not pass for the restart).
func newProcess(action, before string, n fleet.Node) (bool, string) {
	if action != events.ActionRestart || before == "" {
		return true, ""
	}
	if n.Identity() == "" || n.Runs(before) {
		return false, "no heartbeat from a new process yet (still " + before + ")"
	}
	return true, ""
}

func nodeHolds(verify string, n fleet.Node, known bool, since time.Time) (bool, string) {
	fresh := known && n.Healthy && n.LastSeen.After(since)
	switch verify {
	case policy.VerifyNodeHealthy:
		return fresh, "no fresh heartbeat since the action"
	case policy.VerifyNodeAccepting:
		return fresh && !n.Draining, "not healthy and accepting"
	case policy.VerifyDrained:
		if !known || !n.Healthy {
			return true, "" // a silent node holds no connection
		}
		return n.LastSeen.After(since) && n.Connections == 0, fmt.Sprintf("%d connections left", n.Connections)
	}
	return false, "unknown post-condition " + verify
}

// isResolved reads the last event on the anomaly's subject: resolved for
// this anomaly, or for a later one of the same kind and target.
func (e *Engine) isResolved(ctx context.Context, an *events.Anomaly) (bool, error) {
	st, err := e.JS.Stream(ctx, events.StreamAnomalies)
	if err != nil {
		return false, fmt.Errorf("remedy: %s: %w", events.StreamAnomalies, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, events.AnomalySubject(an.Kind, an.Target))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remedy: last anomaly: %w", err)
	}
	last, err := DecodeAnomaly(m.Data)
	if err != nil {
		return false, nil
	}
	if last.State != events.AnomalyResolved {
		return false, nil
	}
	return last.ID == an.ID || !last.DetectedAt.Before(an.DetectedAt), nil
}

// resolved restores what a case lowered (a node's admission) once
// the anomaly resolved and the hold time passed.
func (e *Engine) resolved(ctx context.Context, an *events.Anomaly) (outcome, error) {
	c, found, err := e.Store.Case(ctx, an.ID)
	if err != nil || !found || len(c.Restore) == 0 {
		return done, err
	}
	at := an.ResolvedAt
	if at.IsZero() {
		at = an.DetectedAt
	}
	if wait := at.Add(c.RestoreAfter).Sub(e.now()); wait > 0 {
		return later(wait), nil
	}
	d := &decision{an: an, c: &c}
	var restored []string
	for _, node := range c.Restore {
		id := CommandID(an.ID, "restore", 1)
		_, err := e.Gateways.Resize(ctx, node, events.ResizeCommand{ID: id, Reset: true})
		if err != nil && !errors.Is(err, events.ErrNoResponders) {
			return done, fmt.Errorf("remedy: restore %s: %w", node, err)
		}
		r := e.base(d, events.ActionResize, c.Attempts)
		r.ID, r.Target, r.Params = id, node, map[string]any{"reset": true}
		r.Phase, r.Detail = events.PhaseSucceeded, node+": admission restored to its configured limits"
		if err != nil {
			r.Phase, r.Detail = events.PhaseFailed, node+": not restored, the node is gone: "+err.Error()
		}
		if err := e.emit(ctx, r); err != nil {
			return done, err
		}
		restored = append(restored, node)
	}
	e.log.Info().Str("anomaly", an.ID).Str("nodes", strings.Join(restored, ",")).Msg("admission restored")
	c.Restore = nil
	return done, e.Store.SaveCase(ctx, c)
}
