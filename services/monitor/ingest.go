package monitor

import (
	"cmp"
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/monitor/detect"
	"github.com/wsheal/wsheal/services/monitor/fleet"
)

// onMsg decodes one gateway event and hands it to its handler. Events
// whose node does not match their subject are dropped.
func (s *Service) onMsg(ctx context.Context, m *nats.Msg, heard time.Time) {
	ev, err := events.Decode(m.Data)
	if err != nil {
		s.metrics.decodeErrors.Inc()
		s.log.Debug().Err(err).Str("subject", m.Subject).Msg("undecodable event dropped")
		return
	}
	s.metrics.events.WithLabelValues(ev.Type).Inc()
	switch p := ev.Payload.(type) {
	case *events.Heartbeat:
		if s.fromNode(m.Subject, events.HeartbeatSubject, p.Node) {
			s.onHeartbeat(ctx, ev, p, heard)
		}
	case *events.Health:
		if s.fromNode(m.Subject, events.HealthSubject, p.Node) {
			s.onHealth(ctx, ev, p, heard)
		}
	case *events.Lifecycle:
		if s.fromNode(m.Subject, events.LifecycleSubject, p.Node) {
			s.onLifecycle(ctx, ev, p)
		}
	case *events.ConnEvent:
		s.metrics.connEvents.WithLabelValues(p.Kind).Add(float64(1 + max(p.Suppressed, 0)))
	}
}

func (s *Service) fromNode(subject string, build func(string) string, node string) bool {
	if events.ValidateToken(node) != nil || build(node) != subject {
		s.metrics.decodeErrors.Inc()
		s.log.Debug().Str("subject", subject).Str("node", node).Msg("event on another node's subject dropped")
		return false
	}
	return true
}

// urlsAllowed reports whether a node's URLs, read from its events or its
// registry entry, may be shown and probed: scheme ws, wss, http or https
// and, when WSHEAL_MONITOR_FLEET_HOSTS is set, an allowed host. A forged
// URL is logged and not believed, so the monitor never probes it.
func (s *Service) urlsAllowed(node, url, internal string) bool {
	err := events.Registration{Node: node, URL: url, InternalURL: internal}.CheckURLs(s.cfg.FleetHosts)
	if err != nil {
		s.log.Warn().Err(err).Str("node", node).Msg("node URL ignored")
	}
	return err == nil
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// onHeartbeat feeds liveness; a node silent or down before and on time
// again for RecoverBeats beats is recovered and its down or hung anomaly
// resolved.
func (s *Service) onHeartbeat(ctx context.Context, ev *events.Event, p *events.Heartbeat, heard time.Time) {
	hb := *p
	recovered := s.live.Beat(detect.Beat{Node: hb.Node, At: ev.Time, Heard: heard, Interval: ms(hb.IntervalMS), StartedAt: hb.StartedAt})
	pulse, _ := s.live.Pulse(hb.Node)
	down := ""
	s.change(hb.Node, heard, func(n *fleet.Node) {
		n.Heartbeat, n.HeartbeatAt, n.HeardAt = &hb, ev.Time, heard
		n.Version, n.Draining = hb.Version, hb.Draining
		if s.urlsAllowed(hb.Node, hb.URL, hb.InternalURL) {
			n.URL, n.ProbeURL = hb.URL, cmp.Or(hb.InternalURL, hb.URL)
		}
		if pulse != detect.Stopped {
			n.Stopped = false
		}
		n.Late = pulse == detect.Suspect || pulse == detect.Silent
		down = n.Down
	})
	if !recovered {
		return
	}
	if down != "" {
		s.resolve(ctx, down, hb.Node, heard)
		s.change(hb.Node, heard, func(n *fleet.Node) { n.Down = "" })
	}
}

// onHealth stores the snapshot and runs the node detectors on it.
func (s *Service) onHealth(ctx context.Context, ev *events.Event, p *events.Health, heard time.Time) {
	h := *p
	var node fleet.Node
	s.change(h.Node, heard, func(n *fleet.Node) {
		n.Health, n.HealthAt, n.HealthHeard = &h, ev.Time, heard
		node = *n
	})
	if !node.Active() {
		return
	}
	sample := detect.Sample{At: ev.Time, Health: h}
	peers := s.peers(h.Node)
	s.metrics.evaluations.WithLabelValues("node").Add(float64(len(s.nodeDets)))
	for _, d := range s.nodeDets {
		if t := d.Observe(sample, peers); t != nil {
			s.judgeNode(ctx, d, *t, heard)
		}
	}
}

// peers are the latest snapshots of the other active, live nodes.
func (s *Service) peers(self string) []detect.Sample {
	var out []detect.Sample
	s.view.Each(func(n *fleet.Node) {
		if n.ID != self && n.Health != nil && n.Active() && n.Down == "" && !n.Late {
			out = append(out, detect.Sample{At: n.HealthAt, Health: *n.Health})
		}
	})
	return out
}

// onLifecycle records starts, drains and clean stops.
func (s *Service) onLifecycle(ctx context.Context, ev *events.Event, p *events.Lifecycle) {
	at := ev.Time
	switch p.Phase {
	case events.LifecycleStopping:
		s.stopped(ctx, p.Node)
	case events.LifecycleStarted:
		s.change(p.Node, time.Now(), func(n *fleet.Node) {
			n.Stopped = false
			if p.URL != "" && s.urlsAllowed(p.Node, p.URL, "") {
				n.URL = p.URL
				n.ProbeURL = cmp.Or(n.ProbeURL, p.URL)
			}
		})
	case events.LifecycleDraining, events.LifecycleDrained:
		s.change(p.Node, time.Now(), func(n *fleet.Node) { n.Draining = true })
	case events.LifecycleUndrained:
		s.change(p.Node, time.Now(), func(n *fleet.Node) { n.Draining = false })
	}
	s.log.Debug().Str("node", p.Node).Str("phase", p.Phase).Time("at", at).Msg("lifecycle")
}

// stopped records a clean stop: the node is not missed, and what was
// open on it is over (a restarted node is judged afresh).
func (s *Service) stopped(ctx context.Context, node string) {
	now := time.Now()
	s.live.Stop(node)
	for _, a := range s.openAnomalies("", node) {
		if a.Target == node {
			s.resolve(ctx, a.Kind, node, now)
		}
	}
	for _, d := range s.nodeDets {
		d.Forget(node)
	}
	s.change(node, now, func(n *fleet.Node) {
		n.Stopped, n.StoppedAt, n.Late, n.Down = true, now, false, ""
		clear(n.Degraded)
	})
}

// change updates a node in the view and feeds flapping with its entries
// into an unhealthy state.
func (s *Service) change(node string, at time.Time, fn func(*fleet.Node)) {
	ch := s.view.Update(node, at, fn)
	if ch == nil {
		return
	}
	s.log.Info().Str("node", node).Str("from", ch.From).Str("to", ch.To).Str("reason", ch.Reason).Msg("node state")
	if fleet.Unhealthy(ch.To) {
		// A process that died stands out by itself; any other entry waits
		// to see whether the fleet shared it (see detect.Flapping).
		n, _ := s.view.Get(node)
		s.flapping.Change(node, at, n.Down == events.KindNodeDown)
	}
}
