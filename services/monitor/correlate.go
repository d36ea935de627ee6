package monitor

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/monitor/detect"
	"github.com/wsheal/wsheal/services/monitor/fleet"
)

// Correlation before remediation (see package detect): a node anomaly of
// a correlated kind opens only when that node stands out from healthy
// peers. While the kind is shared by most of the fleet, or the fleet as a
// whole is degraded, its node transitions are held here instead of
// published; a held transition opens later if its node still fires once
// the fleet is healthy again, and is dropped if it clears first.

// heldKey keys a held node transition.
func heldKey(kind, node string) string { return kind + "\x00" + node }

// judgeNode publishes or holds one node detector transition.
func (s *Service) judgeNode(ctx context.Context, d detect.NodeDetector, t detect.Transition, heard time.Time) {
	key := heldKey(t.Kind, t.Target)
	if !t.Open {
		if _, ok := s.held[key]; ok {
			delete(s.held, key) // it cleared before it ever stood out
			s.publishHeld()
			return
		}
		s.apply(ctx, t, t.Start, heard)
		return
	}
	if detect.Correlated[t.Kind] && s.holding(t.Kind, d.Degraded) {
		s.held[key] = t
		s.publishHeld()
		s.log.Info().Str("kind", t.Kind).Str("node", t.Target).Msg("node verdict held: the fleet shares it")
		return
	}
	s.apply(ctx, t, t.Start, heard)
}

// holding reports whether node verdicts of kind wait: the fleet is
// degraded as a whole, or kind is shared by most active nodes now.
func (s *Service) holding(kind string, degraded func(string) bool) bool {
	if s.fleetDeg.Firing() {
		return true
	}
	nodes, active := s.degradedBy(degraded)
	return s.fleetDeg.Config().Shared(len(nodes), active)
}

// degradedBy returns the active nodes for which degraded holds, and how
// many nodes are active (not stopped, not quarantined, not down).
func (s *Service) degradedBy(degraded func(string) bool) ([]string, int) {
	var nodes []string
	active := 0
	s.view.Each(func(n *fleet.Node) {
		if !n.Active() || (n.Down != "" && n.Down != events.KindNodeHung) {
			return
		}
		active++
		if degraded(n.ID) {
			nodes = append(nodes, n.ID)
		}
	})
	sort.Strings(nodes)
	return nodes, active
}

// late reports whether a node misses heartbeats (suspect or silent).
func (s *Service) late(node string) bool {
	p, _ := s.live.Pulse(node)
	return p == detect.Suspect || p == detect.Silent
}

// lateShared reports whether most of the fleet misses heartbeats at once:
// a hung verdict then waits, and the lapses feed no flapping count.
func (s *Service) lateShared() bool {
	nodes, active := s.degradedBy(s.late)
	return s.fleetDeg.Config().Shared(len(nodes), active)
}

// correlate runs the fleet correlation in a fleet round: it raises or
// clears fleet_degraded and opens the held node verdicts that still fire
// once the fleet is healthy.
func (s *Service) correlate(ctx context.Context, now time.Time) {
	var shifts []detect.Shift
	for _, d := range s.nodeDets {
		if detect.Correlated[d.Kind()] {
			nodes, _ := s.degradedBy(d.Degraded)
			bad, _ := s.degradedBy(d.Bad)
			shifts = append(shifts, detect.Shift{Kind: d.Kind(), Nodes: nodes, Now: bad})
		}
	}
	// Nodes past the down threshold together are a shared hang, unless
	// the panic threshold already speaks for them (fleet_silent).
	silent, active := s.degradedBy(func(node string) bool { p, _ := s.live.Pulse(node); return p == detect.Silent })
	if s.panic.Firing() {
		silent = nil
	}
	shifts = append(shifts, detect.Shift{Kind: events.KindNodeHung, Nodes: silent, Now: silent})
	lapsed := s.lapsed || s.warming(now)
	s.lapsed = false
	if t := s.fleetDeg.Observe(now, active, shifts, lapsed); t != nil {
		s.apply(ctx, *t, t.Start.Truncate(s.cfg.WindowBucket), now)
	}
	s.release(ctx, now)
	s.publishHeld()
}

// warming reports whether this monitor has yet to hear, since it
// started, a health snapshot from every active node (for at most six
// fleet rounds, or two of the longest snapshot interval): a fleet not
// heard yet is not a healthy one, so a restarted monitor does not clear
// fleet_degraded before it has seen the present.
func (s *Service) warming(now time.Time) bool {
	limit, known, unheard := 6*s.cfg.FleetEvery, 0, 0
	s.view.Each(func(n *fleet.Node) {
		if !n.Active() || n.Down != "" {
			return
		}
		known++
		if n.Health != nil {
			limit = max(limit, 2*ms(n.Health.IntervalMS))
		}
		if !n.HealthHeard.After(s.since) {
			unheard++
		}
	})
	return now.Sub(s.since) < limit && (known == 0 || unheard > 0)
}

// release opens the held verdicts whose node stands out now (the kind is
// no longer shared, the fleet is not degraded, and the node fires with a
// bad latest sample), and drops the others.
func (s *Service) release(ctx context.Context, now time.Time) {
	for key, t := range s.held {
		d := s.detector(t.Kind)
		if d != nil && s.holding(t.Kind, d.Degraded) {
			continue // (a restored verdict's node may not have been heard yet)
		}
		delete(s.held, key)
		if n, known := s.view.Get(t.Target); d == nil || !known || !n.Active() {
			continue
		}
		// It stands out: still firing, and its latest sample still bad (a
		// node on its way back is left to clear by itself).
		if d.Degraded(t.Target) && d.Bad(t.Target) {
			s.log.Info().Str("kind", t.Kind).Str("node", t.Target).Msg("held verdict opens: the node stands out from healthy peers")
			s.apply(ctx, t, t.Start, now)
		}
	}
}

// publishHeld copies the held verdicts for the control verbs.
func (s *Service) publishHeld() {
	list := make([]events.HeldVerdict, 0, len(s.held))
	for _, t := range s.held {
		list = append(list, events.HeldVerdict{Kind: t.Kind, Node: t.Target, Since: t.Start.UTC()})
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i].Kind < list[j].Kind || list[i].Kind == list[j].Kind && list[i].Node < list[j].Node
	})
	if old := s.heldView.Load(); old == nil || !slices.EqualFunc(*old, list, func(a, b events.HeldVerdict) bool {
		return a.Kind == b.Kind && a.Node == b.Node && a.Since.Equal(b.Since)
	}) {
		s.heldDirty = true
	}
	s.heldView.Store(&list)
}

// correlation is the rule and the verdicts it holds, for `wsheal anomalies`.
func (s *Service) correlation() *events.Correlation {
	c := s.fleetDeg.Config()
	out := &events.Correlation{Share: c.Share, MinNodes: c.MinNodes, ClearAfter: c.ClearAfter}
	for k := range detect.Correlated {
		out.Kinds = append(out.Kinds, k)
	}
	sort.Strings(out.Kinds)
	if l := s.heldView.Load(); l != nil {
		out.Held = *l
	}
	return out
}

// detector returns the node detector of kind.
func (s *Service) detector(kind string) detect.NodeDetector {
	for _, d := range s.nodeDets {
		if d.Kind() == kind {
			return d
		}
	}
	return nil
}
