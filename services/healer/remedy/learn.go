package remedy

import (
	"context"
	"time"

	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/record"
)

// learn adds the end of a ladder step's attempt to the record of its
// (anomaly kind, remedy, target class): whether it worked, why not, how
// long since it began, the clients it moved, and whether the case now
// goes to a person. A record that cannot be written is logged: the
// attempt's outcome is the case's, and healing goes on.
func (e *Engine) learn(ctx context.Context, d *decision, step policy.Step, began time.Time, ok bool, reason string) {
	if e.Record == nil {
		return
	}
	o := record.Outcome{Kind: d.an.Kind, Remedy: step.Remedy(), Class: record.Class(d.an.Target), Anomaly: d.an.ID,
		OK: ok, Reason: reason, Took: e.now().Sub(began), ClientsMoved: d.moved,
		Paged: !ok && d.c.Failures >= e.cfg.RetryCap, At: e.now()}
	d.moved = 0
	r, err := e.Record.Add(ctx, o)
	if err != nil {
		e.log.Warn().Err(err).Str("remedy", o.Remedy).Msg("record not updated")
		return
	}
	e.log.Debug().Str("kind", r.Kind).Str("remedy", r.Remedy).Int("attempts", r.Attempts).
		Int("successes", r.Successes).Msg("record updated")
}
