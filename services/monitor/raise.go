package monitor

import (
	"context"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/monitor/detect"
	"github.com/wsheal/wsheal/services/monitor/fleet"
)

// degrading are the node-level kinds that make a node degraded.
var degrading = map[string]bool{
	events.KindRTTDegraded: true, events.KindStaleSpike: true, events.KindSlowConsumers: true,
	events.KindErrorRate: true, events.KindSaturation: true, events.KindDataPlaneErrors: true,
}

// apply opens or resolves the anomaly of a transition. window is the
// deterministic time its id derives from (see events.AnomalyID).
func (s *Service) apply(ctx context.Context, t detect.Transition, window, now time.Time) {
	if !t.Open {
		s.resolve(ctx, t.Kind, t.Target, now)
		if degrading[t.Kind] {
			s.change(t.Target, now, func(n *fleet.Node) { delete(n.Degraded, t.Kind) })
		}
		return
	}
	a := s.build(t, window, now)
	if a.ID == s.ledger.LastResolved(t.Kind, t.Target) {
		// Fired again within the same coarse window: a new id.
		a.ID = events.AnomalyID(t.Kind, t.Target, now)
	}
	got, fresh := s.ledger.Open(a)
	if fresh {
		s.metrics.anomalies.WithLabelValues(a.Kind, events.AnomalyOpen).Inc()
		s.metrics.raised.WithLabelValues(got.Kind, got.Severity).Inc()
		s.log.Warn().Str("anomaly_id", got.ID).Str("kind", got.Kind).Str("target", got.Target).Str("severity", got.Severity).
			Float64("share", got.Impact.Share).Str("summary", got.Summary).Msg("anomaly open")
	}
	if degrading[t.Kind] {
		s.change(t.Target, now, func(n *fleet.Node) { n.Degraded[t.Kind] = true })
	}
}

// resolve closes the open anomaly of kind on target.
func (s *Service) resolve(ctx context.Context, kind, target string, now time.Time) {
	a, ok := s.ledger.Resolve(kind, target, now)
	if !ok {
		return
	}
	s.metrics.anomalies.WithLabelValues(kind, events.AnomalyResolved).Inc()
	s.log.Info().Str("anomaly_id", a.ID).Str("kind", kind).Str("target", target).
		Dur("lasted", now.Sub(a.ImpactStart)).Msg("anomaly resolved")
}

// build makes the anomaly event of a firing transition.
func (s *Service) build(t detect.Transition, window, now time.Time) events.Anomaly {
	nodes := t.Nodes
	if len(nodes) == 0 && t.Target != events.FleetTarget {
		nodes = []string{t.Target}
	}
	return events.Anomaly{
		ID:          events.AnomalyID(t.Kind, t.Target, window),
		Kind:        t.Kind,
		State:       events.AnomalyOpen,
		Target:      t.Target,
		Nodes:       nodes,
		Severity:    t.Severity,
		Impact:      s.view.Impact(nodes),
		Evidence:    t.Evidence,
		Summary:     t.Summary,
		ImpactStart: t.Start.UTC(),
		DetectedAt:  now.UTC(),
	}
}

// seed restores a detector's firing state from an open anomaly, so that
// the restarted monitor resolves it when its condition clears and does
// not fire it again meanwhile.
func (s *Service) seed(a events.Anomaly, now time.Time) {
	switch a.Kind {
	case events.KindNodeDown, events.KindNodeHung:
		s.live.Seed(a.Target, now)
		s.change(a.Target, now, func(n *fleet.Node) { n.Down, n.Late = a.Kind, true })
	case events.KindFleetSilent:
		s.panic.Seed(a.ImpactStart)
		s.panicking.Store(true)
	case events.KindReconnectStorm:
		s.storm.Seed(a.ImpactStart)
	case events.KindImbalance:
		s.imbalance.Seed(a.ImpactStart)
	case events.KindFleetDegraded:
		s.fleetDeg.Seed(a.ImpactStart)
	case events.KindStoreFull, events.KindConsumerLimit:
		for _, d := range s.limits {
			if d.Kind() == a.Kind {
				d.Seed(a.ImpactStart)
			}
		}
	case events.KindFleetSaturated, events.KindFleetUnderused:
		for _, d := range s.capacity {
			if d.Kind() == a.Kind {
				d.Seed(a.ImpactStart)
			}
		}
	case events.KindFlapping:
		s.flapping.Seed(a.Target, a.ImpactStart)
	default:
		for _, d := range s.nodeDets {
			if d.Kind() == a.Kind {
				d.Seed(a.Target, a.ImpactStart)
				s.change(a.Target, now, func(n *fleet.Node) { n.Degraded[a.Kind] = true })
			}
		}
	}
}
