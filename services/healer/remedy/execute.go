package remedy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/executor/webhook"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/rebalance"
	"github.com/wsheal/wsheal/services/healer/state"
)

// loads returns a reader of the accepting nodes a rebalance may use:
// hands-off and quarantined nodes are left out.
func (e *Engine) loads(ctx context.Context) func() []rebalance.Load {
	return func() []rebalance.Load {
		var out []rebalance.Load
		for _, n := range e.Fleet.Snapshot(e.now()) {
			if !n.Accepting() {
				continue
			}
			if off, err := e.Store.IsHandsOff(ctx, n.ID); err != nil || off {
				continue
			}
			if q, err := e.Store.IsQuarantined(ctx, n.ID); err != nil || q {
				continue
			}
			out = append(out, rebalance.Load{ID: n.ID, Conns: n.Connections})
		}
		return out
	}
}

// execute carries out a step on its targets.
func (e *Engine) execute(ctx context.Context, d *decision, s policy.Step, targets []string, id string, since time.Time) (string, error) {
	if s.Action == events.ActionRebalance {
		// One rebalance at a time: a restart's follow-up and an imbalance
		// policy moving the same clients at once overshoot (each planned
		// from counts the other was changing). The second reads the fleet
		// afresh once the first is done, and mostly has nothing to move.
		e.rebalancing.Lock()
		defer e.rebalancing.Unlock()
		res, err := rebalance.Run(ctx, rebalance.Params{ID: id, Bound: s.Bound, WaveFraction: s.WaveFraction,
			WavePause: s.WavePause.D(), MaxWaves: s.MaxWaves}, e.loads(ctx), e.Gateways)
		d.moved += res.Moved
		detail := fmt.Sprintf("rebalanced in %d waves, moved %d connections, max/mean %.2f", res.Waves, res.Moved, res.Ratio)
		return detail, err
	}
	var parts []string
	for _, node := range targets {
		cid := id
		if len(targets) > 1 {
			cid = id + "." + state.Key(node)
		}
		part, err := e.executeOn(ctx, d, s, node, cid, since)
		if err != nil {
			return strings.Join(parts, "; "), err
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; "), nil
}

func (e *Engine) executeOn(ctx context.Context, d *decision, s policy.Step, node, id string, since time.Time) (string, error) {
	switch s.Action {
	case events.ActionReconnect:
		r, err := e.Gateways.Reconnect(ctx, node, events.ReconnectCommand{ID: id, Select: s.Select, Count: s.Count,
			Fraction: s.Fraction, OverMS: s.Over.D().Milliseconds()})
		d.moved += r.Selected
		return fmt.Sprintf("%s: %d clients asked to reconnect (%s)", node, r.Selected, s.Select), err
	case events.ActionResize:
		return e.resize(ctx, s, node, id)
	case events.ActionDrain:
		r, err := e.Gateways.Drain(ctx, node, events.DrainCommand{ID: id, OverMS: e.cfg.DrainOver.Milliseconds(), Reason: d.an.Kind})
		d.moved += r.Connections
		return fmt.Sprintf("%s: draining %d connections over %d ms", node, r.Connections, r.OverMS), err
	case events.ActionUndrain:
		return node + ": accepting again", e.Gateways.Undrain(ctx, node, events.UndrainCommand{ID: id})
	case events.ActionRestart:
		if n, ok := e.Fleet.Get(node, e.now()); ok && n.Healthy {
			d.moved += n.Connections // a live node's restart closes them all
		}
		how, err := e.Restart.Restart(ctx, id, node, since)
		return fmt.Sprintf("%s: restarted (%s)", node, how), err
	case events.ActionScale:
		return e.scale(ctx, d, s, id, since)
	case events.ActionWebhook:
		err := e.Webhooks.Post(ctx, s.URL, webhook.Call{ID: id, Action: s.Action, Attempt: d.c.Attempts,
			Target: node, Anomaly: d.an, SentAt: e.now().UTC()})
		return "runbook " + s.URL + " called", err
	}
	return "", fmt.Errorf("remedy: action %s has no executor", s.Action)
}

// resize lowers a node's admission: max_conns by a factor of its capacity
// and the accept rate.
func (e *Engine) resize(ctx context.Context, s policy.Step, node, id string) (string, error) {
	cmd := events.ResizeCommand{ID: id}
	if s.MaxConnsFactor > 0 {
		n, ok := e.Fleet.Get(node, e.now())
		capacity := n.Capacity
		if !ok || capacity == 0 {
			capacity = n.Connections
		}
		if capacity > 0 {
			mc := max(1, int(float64(capacity)*s.MaxConnsFactor))
			cmd.MaxConns = &mc
		}
	}
	if s.AcceptRate > 0 {
		ar := s.AcceptRate
		cmd.AcceptRate = &ar
	}
	if cmd.MaxConns == nil && cmd.AcceptRate == nil {
		return "", errors.New("remedy: the node's capacity is unknown and no accept rate is set")
	}
	set, err := e.Gateways.Resize(ctx, node, cmd)
	return fmt.Sprintf("%s: admission lowered to max_conns %d, accept_rate %.1f/s", node, set.MaxConns, set.AcceptRate), err
}

// quarantine drains the anomaly's nodes and leaves them out, then
// escalates: a node that keeps failing after healing needs a person.
func (e *Engine) quarantine(ctx context.Context, d *decision, why string) error {
	dry := d.snap.DryRun
	for _, node := range gate.NodeTargets(d.an) {
		r := e.base(d, events.ActionQuarantine, 1)
		r.Target = node
		if dry {
			r.ID, r.Phase, r.Reason, r.DryRun = r.ID+".dry-run", events.PhaseSkipped, events.SkipDryRun, true
			r.Detail = "would drain " + node + " and leave it out: " + why
			if err := e.emit(ctx, r); err != nil {
				return err
			}
			continue
		}
		if err := e.quarantineNode(ctx, d, r, node, why); err != nil {
			return err
		}
	}
	if dry {
		d.c.Done, d.c.Outcome = true, "dry-run"
		return nil
	}
	return e.giveUp(ctx, d, events.SkipFlapping, why)
}

func (e *Engine) quarantineNode(ctx context.Context, d *decision, r events.Remediation, node, why string) error {
	d.c.Tried = append(d.c.Tried, "quarantine "+node)
	detail := node + " quarantined: " + why
	if blast := e.blastOf(node); blast != "" {
		detail += "; not drained: " + blast
	} else {
		r.Phase, r.Detail = events.PhaseStarted, "draining "+node
		if err := e.emit(ctx, r); err != nil {
			return err
		}
		if _, err := e.Gateways.Drain(ctx, node, events.DrainCommand{ID: r.ID, OverMS: e.cfg.DrainOver.Milliseconds(), Reason: "quarantine"}); err != nil {
			detail += "; drain not acknowledged: " + err.Error()
		} else {
			detail += "; drained"
		}
	}
	if err := e.Store.SetQuarantine(ctx, state.Quarantine{Node: node, Reason: why, Since: e.now().UTC()}); err != nil {
		return err
	}
	r.Phase, r.Detail = events.PhaseSucceeded, detail
	return e.emit(ctx, r)
}

func (e *Engine) blastOf(node string) string {
	return blastCheck(e.Fleet.Snapshot(e.now()), node, e.cfg.BlastShare)
}
