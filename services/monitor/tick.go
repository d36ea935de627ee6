package monitor

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/monitor/detect"
	"github.com/wsheal/wsheal/services/monitor/fleet"
	"github.com/wsheal/wsheal/services/monitor/probe"
)

// tick runs what was queued, then checks liveness, the panic threshold,
// flapping and, every FleetEvery, the fleet-wide detectors.
func (s *Service) tick(ctx context.Context) {
	s.drain(ctx)
	now := time.Now()
	s.lastTick.Store(now.UnixNano())
	connected := s.nc.IsConnected()
	s.connected.Store(connected)
	switch {
	case !connected:
		s.blind = true
	case s.blind:
		// What we did not hear while disconnected is not the nodes' silence.
		s.live.Blind(now)
		s.blind = false
	}
	s.metrics.evaluations.WithLabelValues("liveness").Inc()
	for _, lp := range s.live.Check(now) {
		s.change(lp.Node, now, func(n *fleet.Node) { n.Late = true })
	}
	s.checkPanic(ctx, now, connected)
	if !s.panic.Firing() && connected {
		s.probeSilent(ctx)
	}
	lateShared := s.lateShared()
	s.lapsed = s.lapsed || lateShared // read by the next fleet round
	if s.fleetDeg.Firing() || s.panic.Firing() || lateShared {
		s.flapping.Shared(now) // what nodes enter now is the fleet's, not theirs
	}
	for _, t := range s.flapping.Check(now) {
		s.apply(ctx, t, t.Start.Truncate(s.cfg.WindowBucket), now)
	}
	if now.Sub(s.lastRound) >= s.cfg.FleetEvery {
		s.fleetRound(ctx, now)
	}
	if now.Sub(s.lastSave) >= 6*s.cfg.FleetEvery && connected && s.kv != nil {
		s.lastSave = now
		s.saveBaselines(ctx, s.kv)
	}
	if connected {
		s.saveHeld(ctx)
	}
	s.forgetStopped(now)
}

// drain runs the work queued so far, so that beats heard before this
// tick count before silence is measured (the loop may have been busy).
func (s *Service) drain(ctx context.Context) {
	for range len(s.ops) {
		select {
		case op := <-s.ops:
			op(ctx)
		default:
			return
		}
	}
}

// silence is the panic input: the active nodes, those newly silent (late
// or silent without a verdict), the earliest impact start and the latest
// last beat among them.
type silence struct {
	active      int
	nodes       []string
	start, last time.Time
	anySilent   bool // one of them is past the down threshold
}

func (s *Service) silence(now time.Time) silence {
	var si silence
	s.view.Each(func(n *fleet.Node) {
		if !n.Active() {
			return
		}
		si.active++
		p, _ := s.live.Pulse(n.ID)
		if (p != detect.Suspect && p != detect.Silent) || n.Down != "" {
			return
		}
		si.nodes = append(si.nodes, n.ID)
		si.anySilent = si.anySilent || p == detect.Silent
		b := s.live.Last(n.ID)
		due := b.At.Add(b.Interval)
		if b.At.IsZero() {
			due = now
		}
		if si.start.IsZero() || due.Before(si.start) {
			si.start = due
		}
		if b.At.After(si.last) {
			si.last = b.At
		}
	})
	sort.Strings(si.nodes)
	return si
}

// checkPanic raises one fleet_silent anomaly when most of the fleet falls
// silent at once or this monitor lost NATS, and resolves it when that
// passes. Silent nodes wait; they are judged one by one after the panic.
func (s *Service) checkPanic(ctx context.Context, now time.Time, connected bool) {
	si := s.silence(now)
	start := si.start
	if !connected || start.IsZero() {
		start = now
	}
	late := len(si.nodes)
	if !si.anySilent && !s.panic.Firing() {
		late = 0 // late beats alone (a blip shorter than the down threshold) start no panic
	}
	fired, cleared := s.panic.Observe(start, late, si.active, connected)
	s.panicking.Store(s.panic.Firing())
	switch {
	case fired:
		s.log.Warn().Int("silent", len(si.nodes)).Int("fleet", si.active).Bool("connected", connected).Msg("panic threshold reached")
		s.fleetSilent(ctx, si, now, connected)
	case cleared:
		s.log.Info().Msg("panic over")
		// Nodes still silent are judged one by one, each after a full down
		// threshold from now: a fleet coming back does not come back in one
		// instant, and the beats missed during the panic are the fleet's.
		s.live.Blind(now)
		s.apply(ctx, detect.Transition{Kind: events.KindFleetSilent, Target: events.FleetTarget, At: now}, time.Time{}, now)
	}
}

// fleetSilent opens the panic anomaly. Its window is the last beat heard
// from the silent nodes (the same in every replica), or, when this
// monitor lost NATS (a fact of this replica alone), now.
func (s *Service) fleetSilent(ctx context.Context, si silence, now time.Time, connected bool) {
	window := si.last
	ev := events.Evidence{Metric: "silent_share", Value: float64(len(si.nodes)) / float64(max(si.active, 1)),
		Threshold: s.cfg.PanicConfig.Share, Detail: fmt.Sprintf("%d of %d nodes silent", len(si.nodes), si.active)}
	if !connected || window.IsZero() {
		window = now
		ev = events.Evidence{Metric: "monitor_nats_connected", Value: 0, Threshold: 1, Detail: "the monitor lost its NATS connection"}
	}
	t := detect.Transition{Kind: events.KindFleetSilent, Target: events.FleetTarget, Open: true, Start: s.panic.Start(), At: now,
		Severity: events.SeverityCritical, Nodes: si.nodes, Evidence: ev,
		Summary: "most of the fleet went silent at once: NATS, the network or the monitor is the likely cause; node verdicts are held"}
	s.apply(ctx, t, window, now)
}

// judged reports whether a node is silent and waits for a verdict.
func (s *Service) judged(n *fleet.Node) bool {
	p, _ := s.live.Pulse(n.ID)
	return p == detect.Silent && n.Active() && n.Down == ""
}

// probeSilent probes, in the background, every silent node that has no
// verdict yet and no probe under way.
func (s *Service) probeSilent(ctx context.Context) {
	type target struct{ node, url string }
	var targets []target
	s.view.Each(func(n *fleet.Node) {
		if s.judged(n) && !s.probing[n.ID] {
			targets = append(targets, target{n.ID, cmp.Or(n.ProbeURL, n.URL)})
		}
	})
	for _, tg := range targets {
		s.probing[tg.node] = true
		node, url, timeout := tg.node, tg.url, s.cfg.ProbeTimeout
		s.goRun(func() {
			res := probe.Check(ctx, url, timeout)
			s.post(func(ctx context.Context) { s.onProbe(ctx, node, res) })
		})
	}
}

// onProbe turns a probe of a silent node into node_hung or node_down,
// unless the node beat again or a panic began meanwhile.
func (s *Service) onProbe(ctx context.Context, node string, res detect.Probe) {
	delete(s.probing, node)
	now := time.Now()
	n, ok := s.view.Get(node)
	lp, silent := s.live.Lapse(node, now)
	if !ok || !silent || !s.judged(&n) || s.panic.Firing() || lp.Gap < lp.Threshold || !s.nc.IsConnected() {
		return // it beat again meanwhile (late, not dead), or the verdicts are held
	}
	kind := detect.Classify(res)
	if kind == events.KindNodeHung && s.lateShared() {
		return // most of the fleet stalls with it: the fleet correlation speaks, not a node verdict
	}
	s.metrics.probes.WithLabelValues(kind).Inc()
	window := lp.Last
	if window.IsZero() {
		window = lp.Start.Truncate(s.cfg.WindowBucket)
	}
	imp := s.view.Impact([]string{node})
	sev := events.SeverityError
	if imp.Share >= s.cfg.CriticalShare {
		sev = events.SeverityCritical
	}
	what := "down: its listener refuses connections"
	if kind == events.KindNodeHung {
		what = "hung: its listener accepts but it sends no heartbeat"
	}
	t := detect.Transition{Kind: kind, Target: node, Open: true, Start: lp.Start, At: now, Severity: sev,
		Evidence: events.Evidence{Metric: "heartbeat_gap_ms", Value: float64(lp.Gap.Milliseconds()), Threshold: float64(lp.Threshold.Milliseconds()),
			WindowMS: lp.Threshold.Milliseconds(), Detail: res.Detail},
		Summary: fmt.Sprintf("%s is %s (no heartbeat for %v)", node, what, lp.Gap.Round(time.Millisecond))}
	s.apply(ctx, t, window, now)
	s.change(node, now, func(n *fleet.Node) { n.Down = kind })
}

// fleetRound runs the fleet-wide detectors over the live, active nodes.
func (s *Service) fleetRound(ctx context.Context, now time.Time) {
	s.lastRound = now
	var snaps []detect.Sample
	var loads []detect.Load
	var usage detect.FleetLoad
	s.view.Each(func(n *fleet.Node) {
		if !n.Active() || n.Down != "" || n.Late {
			return
		}
		if n.Health != nil && now.Sub(n.HealthHeard) <= 3*ms(max(n.Health.IntervalMS, 1)) {
			snaps = append(snaps, detect.Sample{At: n.HealthAt, Health: *n.Health})
		}
		if !n.Draining && n.Heartbeat != nil {
			loads = append(loads, detect.Load{Node: n.ID, Connections: n.Connections()})
			usage.Nodes = append(usage.Nodes, n.ID)
			usage.Connections += n.Connections()
			usage.Capacity += n.Capacity()
		}
	})
	s.metrics.evaluations.WithLabelValues("fleet").Add(float64(2 + len(s.limits) + len(s.capacity)))
	if t := s.storm.Observe(now, snaps); t != nil {
		s.apply(ctx, *t, t.Start.Truncate(s.cfg.WindowBucket), now)
	}
	if t := s.imbalance.Observe(now, loads); t != nil {
		s.apply(ctx, *t, t.Start.Truncate(s.cfg.WindowBucket), now)
	}
	for _, d := range s.limits {
		if t := d.Observe(now, snaps); t != nil {
			s.apply(ctx, *t, t.Start.Truncate(s.cfg.WindowBucket), now)
		}
	}
	sort.Strings(usage.Nodes)
	for _, d := range s.capacity {
		if t := d.Observe(now, usage); t != nil {
			s.apply(ctx, *t, t.Start.Truncate(s.cfg.WindowBucket), now)
		}
	}
	s.correlate(ctx, now)
}

// forgetStopped drops nodes that stopped cleanly long ago.
func (s *Service) forgetStopped(now time.Time) {
	var gone []string
	s.view.Each(func(n *fleet.Node) {
		if n.Stopped && now.Sub(n.StoppedAt) >= s.cfg.ForgetAfter {
			gone = append(gone, n.ID)
		}
	})
	for _, id := range gone {
		s.view.Forget(id)
		s.live.Forget(id)
		s.flapping.Forget(id)
		for _, d := range s.nodeDets {
			d.Forget(id)
		}
	}
}
