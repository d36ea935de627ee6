package remedy

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/record"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// snapshot reads, once, everything the gates read for a delivery of an
// with case c. With follow set it reads what the action gates read for
// that follow-up step; else everything the pipeline reads.
func (e *Engine) snapshot(ctx context.Context, an *events.Anomaly, c state.Case, follow *policy.Step) (gate.Snapshot, error) {
	s := gate.Snapshot{Anomaly: an, Now: e.now(), Fleet: e.Fleet.Snapshot(e.now()), FollowUp: follow,
		Policy: e.Policies.Match(an.Kind, an.Severity)}
	var err error
	if s.HandsOff, s.Quarantined, err = e.locks(ctx, s); err != nil {
		return s, err
	}
	if follow == nil {
		if err := e.readCase(ctx, &s); err != nil {
			return s, err
		}
	}
	if s.Budget, err = e.Store.Budget(ctx); err != nil {
		return s, err
	}
	if follow == nil {
		s.Learn, s.Records = e.cfg.Learn, e.records(ctx, an)
	}
	step, _, resumed, ok := gate.Next(c, s)
	if !ok || resumed {
		return s, nil
	}
	targets, _ := gate.Targets(s, step)
	s.Backoff = make(map[string]safety.Attempts, len(targets))
	for _, t := range targets {
		a, err := e.Store.Backoff(ctx, t, step.Action)
		if err != nil {
			return s, err
		}
		s.Backoff[gate.BackoffKey(t, step.Action)] = a
	}
	return s, nil
}

// readCase reads what the gates before the action gates read.
func (e *Engine) readCase(ctx context.Context, s *gate.Snapshot) error {
	var err error
	if s.Resolved, err = e.isResolved(ctx, s.Anomaly); err != nil {
		return err
	}
	if s.Panicking, err = e.Store.Panicking(ctx); err != nil {
		return err
	}
	sw, err := e.Switches(ctx)
	if err != nil {
		return err
	}
	s.Paused, s.DryRun = sw.Paused, sw.DryRun
	if gate.Liveness(s.Anomaly) {
		if s.Heals, err = e.Store.Heals(ctx, s.Anomaly.Target); err != nil {
			return err
		}
	}
	s.Degraded, err = e.fleetDegraded(ctx)
	return err
}

// locks reads the hands-off locks and quarantines of the fleet's nodes
// and the anomaly's.
func (e *Engine) locks(ctx context.Context, s gate.Snapshot) (map[string]bool, map[string]bool, error) {
	off, q := map[string]bool{}, map[string]bool{}
	nodes := gate.NodeTargets(s.Anomaly)
	for _, n := range s.Fleet {
		nodes = append(nodes, n.ID)
	}
	for _, n := range nodes {
		if _, seen := off[n]; seen {
			continue
		}
		var err error
		if off[n], err = e.Store.IsHandsOff(ctx, n); err != nil {
			return nil, nil, err
		}
		if q[n], err = e.Store.IsQuarantined(ctx, n); err != nil {
			return nil, nil, err
		}
	}
	return off, q, nil
}

// fleetDegraded reads the last fleet_degraded event from the anomalies
// stream (nil when there is none): the state every replica shares,
// whichever monitor replica published it.
func (e *Engine) fleetDegraded(ctx context.Context) (*events.Anomaly, error) {
	st, err := e.JS.Stream(ctx, events.StreamAnomalies)
	if err != nil {
		return nil, fmt.Errorf("remedy: %s: %w", events.StreamAnomalies, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, events.AnomalySubject(events.KindFleetDegraded, events.FleetTarget))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("remedy: last fleet_degraded: %w", err)
	}
	an, err := DecodeAnomaly(m.Data)
	if err != nil {
		return nil, nil // unreadable: no hold rests on it
	}
	return an, nil
}

// records reads the record of the anomaly's kind and target class. A
// record that cannot be read orders nothing: the ladder is tried as the
// policy wrote it, and healing goes on.
func (e *Engine) records(ctx context.Context, an *events.Anomaly) map[string]events.RemedyRecord {
	if e.Record == nil {
		return nil
	}
	recs, err := e.Record.For(ctx, an.Kind, record.Class(an.Target))
	if err != nil {
		e.log.Warn().Err(err).Str("kind", an.Kind).Msg("record not read; the ladder as written")
		return nil
	}
	return recs
}
