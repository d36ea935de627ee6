package remedy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// resolved restores what an incident lowered (a node's admission) once
// the anomaly resolved and the hold time passed.
func (e *Engine) resolved(ctx context.Context, an *events.Anomaly) (outcome, error) {
	inc, found, err := e.Store.Incident(ctx, an.ID)
	if err != nil || !found || len(inc.Restore) == 0 {
		return done, err
	}
	at := an.ResolvedAt
	if at.IsZero() {
		at = an.DetectedAt
	}
	if wait := time.Until(at.Add(inc.RestoreAfter)); wait > 0 {
		return later(wait), nil
	}
	d := &decision{an: an, inc: &inc}
	var restored []string
	for _, node := range inc.Restore {
		id := CommandID(an.ID, "restore", 1)
		_, err := e.Gateways.Resize(ctx, node, events.ResizeCommand{ID: id, Reset: true})
		if err != nil && !errors.Is(err, events.ErrNoResponders) {
			return done, fmt.Errorf("remedy: restore %s: %w", node, err)
		}
		r := e.base(d, events.ActionResize, inc.Attempts)
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
	inc.Restore = nil
	return done, e.Store.SaveIncident(ctx, inc)
}
