package monitor

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/fleetview"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/monitor/detect"
	"github.com/wsheal/wsheal/services/monitor/fleet"
)

// bootstrap adds the nodes of the registry (BucketFleet, read through
// fleetview.List) to the view, so that a node that died while no monitor
// ran is still missed. An entry that fails its checks is not believed,
// but its node is still watched. A node whose last lifecycle event says it
// stopped is recorded as stopped.
func (s *Service) bootstrap(ctx context.Context, now time.Time) {
	kv, err := s.js.KeyValue(ctx, events.BucketFleet)
	if err != nil {
		s.log.Warn().Err(err).Msg("fleet registry unavailable")
		return
	}
	entries, err := fleetview.List(ctx, kv, s.cfg.FleetHosts)
	if err != nil {
		s.log.Warn().Err(err).Msg("fleet registry unreadable")
		return
	}
	for _, e := range entries {
		reg := e.Node
		if e.Err != nil {
			s.log.Warn().Err(e.Err).Str("node", reg.ID).Msg("fleet registry entry ignored")
		}
		node := reg.ID
		s.live.Watch(node, cmp.Or(reg.Interval, time.Second), now)
		stopped := s.lastPhase(ctx, node) == events.LifecycleStopping
		if stopped {
			s.live.Stop(node)
		}
		s.change(node, now, func(n *fleet.Node) {
			if n.URL == "" {
				n.URL, n.ProbeURL = reg.URL, cmp.Or(reg.InternalURL, reg.URL)
			}
			n.Stopped, n.StoppedAt = stopped, now
		})
	}
}

// lastPhase reads a node's last lifecycle phase from the health stream.
func (s *Service) lastPhase(ctx context.Context, node string) string {
	st, err := s.js.Stream(ctx, events.StreamHealth)
	if err != nil {
		return ""
	}
	msg, err := st.GetLastMsgForSubject(ctx, events.LifecycleSubject(node))
	if err != nil {
		return ""
	}
	ev, err := events.Decode(msg.Data)
	if err != nil {
		return ""
	}
	if lc, ok := events.As[*events.Lifecycle](ev); ok {
		return lc.Phase
	}
	return ""
}

// watchLedger mirrors the other replicas' open anomalies until ctx ends.
func (s *Service) watchLedger(ctx context.Context) {
	if err := s.ledger.Watch(ctx); err != nil {
		s.log.Error().Err(err).Msg("anomaly watch")
	}
}

// watchQuarantine follows the quarantine keys of BucketDesired until ctx
// ends: a node with a key is quarantined, deleting the key lifts it.
func (s *Service) watchQuarantine(ctx context.Context) {
	w := service.KVWatch{Keys: []string{events.QuarantineKeyPrefix + "*"}, Apply: s.onQuarantine}
	if err := service.WatchBucket(ctx, s.js, events.BucketDesired, w, s.log); err != nil {
		s.log.Error().Err(err).Msg("quarantine watch")
	}
}

func (s *Service) onQuarantine(e jetstream.KeyValueEntry) {
	node := strings.TrimPrefix(e.Key(), events.QuarantineKeyPrefix)
	if events.ValidateToken(node) != nil {
		return
	}
	var q *events.Quarantine
	if e.Operation() == jetstream.KeyValuePut {
		q = &events.Quarantine{Node: node}
		if err := json.Unmarshal(e.Value(), q); err != nil {
			q.Reason = "quarantined (unreadable record)"
		}
		q.Node = node
	}
	s.post(func(context.Context) {
		s.change(node, time.Now(), func(n *fleet.Node) { n.Quarantine = q })
	})
}

// baselineKey holds the RTT baselines in BucketMonitor.
const baselineKey = "baseline.rtt"

// rtt is the RTT detector among the node detectors.
func (s *Service) rtt() *detect.RTT {
	for _, d := range s.nodeDets {
		if r, ok := d.(*detect.RTT); ok {
			return r
		}
	}
	return nil
}

// restoreBaselines loads the saved RTT baselines, if any.
func (s *Service) restoreBaselines(ctx context.Context, kv jetstream.KeyValue) {
	e, err := kv.Get(ctx, baselineKey)
	if err != nil {
		return
	}
	var saved map[string]detect.Baseline
	if err := json.Unmarshal(e.Value(), &saved); err != nil {
		s.log.Warn().Err(err).Msg("saved RTT baselines unreadable")
		return
	}
	s.rtt().Restore(saved)
}

// saveBaselines writes the RTT baselines in the background, at most one
// write at a time; the tick calls it every 6 fleet rounds (30 s by
// default).
func (s *Service) saveBaselines(ctx context.Context, kv jetstream.KeyValue) {
	b, err := json.Marshal(s.rtt().Baselines())
	if err != nil || !s.saving.CompareAndSwap(false, true) {
		return
	}
	s.goRun(func() {
		defer s.saving.Store(false)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := kv.Put(wctx, baselineKey, b); err != nil && ctx.Err() == nil {
			s.log.Debug().Err(err).Msg("RTT baselines not saved")
		}
	})
}
