package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/monitor/detect"
)

// The verdicts held by the fleet correlation are kept in BucketMonitor, so
// that a monitor restarted during a fleet-wide slowdown, or a replica
// taking over, holds what was held: fleet_degraded itself is an open
// anomaly there (restored like any other), and the held verdicts are
// restored with their detectors seeded as firing, so each opens if its
// node still fires once the fleet is healthy, and is dropped if it clears.

// heldStateKey holds the held verdicts in BucketMonitor.
const heldStateKey = "held.verdicts"

// maxHeldBytes bounds a stored list of held verdicts.
const maxHeldBytes = 1 << 20

// errHeld marks an unusable stored list of held verdicts.
var errHeld = errors.New("monitor: held verdicts")

// heldRecord is one held verdict as stored.
type heldRecord struct {
	Kind     string          `json:"kind"`
	Node     string          `json:"node"`
	Start    time.Time       `json:"start"`
	Severity string          `json:"severity"`
	Evidence events.Evidence `json:"evidence"`
	Summary  string          `json:"summary,omitempty"`
}

// encodeHeld writes the held verdicts as stored.
func encodeHeld(held map[string]detect.Transition) ([]byte, error) {
	recs := make([]heldRecord, 0, len(held))
	for _, t := range held {
		recs = append(recs, heldRecord{Kind: t.Kind, Node: t.Target, Start: t.Start.UTC(), Severity: t.Severity, Evidence: t.Evidence, Summary: t.Summary})
	}
	return json.Marshal(recs)
}

// decodeHeld reads a stored list of held verdicts; every record must name
// a correlated kind, a node id, a known severity and a start.
func decodeHeld(b []byte) ([]detect.Transition, error) {
	if len(b) > maxHeldBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", errHeld, len(b), maxHeldBytes)
	}
	var recs []heldRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%w: %w", errHeld, err)
	}
	out := make([]detect.Transition, 0, len(recs))
	for _, r := range recs {
		switch {
		case !detect.Correlated[r.Kind] || r.Kind == events.KindNodeHung:
			return nil, fmt.Errorf("%w: kind %q is not held", errHeld, r.Kind)
		case events.ValidateToken(r.Node) != nil || r.Node == events.FleetTarget:
			return nil, fmt.Errorf("%w: %q is not a node id", errHeld, r.Node)
		case events.SeverityRank(r.Severity) == 0:
			return nil, fmt.Errorf("%w: severity %q", errHeld, r.Severity)
		case r.Start.IsZero():
			return nil, fmt.Errorf("%w: no start for %s on %s", errHeld, r.Kind, r.Node)
		}
		out = append(out, detect.Transition{Kind: r.Kind, Target: r.Node, Open: true, Start: r.Start, At: r.Start,
			Severity: r.Severity, Evidence: r.Evidence, Summary: r.Summary})
	}
	return out, nil
}

// restoreHeld loads the held verdicts and seeds their detectors as firing
// (without marking the nodes degraded: nothing was published for them).
func (s *Service) restoreHeld(ctx context.Context, kv jetstream.KeyValue) {
	e, err := kv.Get(ctx, heldStateKey)
	if err != nil {
		return
	}
	list, err := decodeHeld(e.Value())
	if err != nil {
		s.log.Warn().Err(err).Msg("held verdicts ignored")
		return
	}
	for _, t := range list {
		d := s.detector(t.Kind)
		if d == nil {
			continue
		}
		d.Seed(t.Target, t.Start)
		s.held[heldKey(t.Kind, t.Target)] = t
	}
	s.publishHeld()
	s.heldDirty = false
	if len(list) > 0 {
		s.log.Info().Int("held", len(list)).Msg("held verdicts restored")
	}
}

// saveHeld writes the held verdicts in the background when they changed,
// at most one write at a time; a failed write is tried again next tick.
func (s *Service) saveHeld(ctx context.Context) {
	if !s.heldDirty || s.kv == nil || !s.savingHeld.CompareAndSwap(false, true) {
		return
	}
	b, err := encodeHeld(s.held)
	if err != nil {
		s.savingHeld.Store(false)
		return
	}
	s.heldDirty = false
	kv := s.kv
	s.goRun(func() {
		defer s.savingHeld.Store(false)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := kv.Put(wctx, heldStateKey, b); err != nil && ctx.Err() == nil {
			s.log.Debug().Err(err).Msg("held verdicts not saved")
			s.post(func(context.Context) { s.heldDirty = true })
		}
	})
}
