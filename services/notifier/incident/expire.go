package incident

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Expire removes incidents resolved and settled before cutoff, with what
// points at them: their anomaly index entries, their sent records and
// their group pointer. Reviews stay in the reviews stream. It returns how
// many incidents it removed.
func (e *Engine) Expire(ctx context.Context, cutoff time.Time) (int, error) {
	ids, err := e.store.IDs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		r, rev, err := e.store.Get(ctx, id)
		if err != nil || !r.Settled() || !r.ResolvedAt.Before(cutoff) {
			continue
		}
		if err := e.store.remove(ctx, r, rev); err != nil {
			e.log.Warn().Err(err).Str("incident", id).Msg("expire")
			continue
		}
		e.mu.Lock()
		delete(e.settled, id)
		e.mu.Unlock()
		n++
	}
	if n > 0 {
		if err := e.store.kv.PurgeDeletes(ctx); err != nil {
			return n, fmt.Errorf("incident: purge delete markers: %w", err)
		}
	}
	return n, nil
}

// remove purges a record (if still at rev) and the keys that name it.
func (s *Store) remove(ctx context.Context, r *Record, rev uint64) error {
	for _, a := range r.Anomalies {
		if id, err := s.IncidentOf(ctx, a); err == nil && id == r.ID {
			_ = s.kv.Purge(ctx, anomalyKey(a))
		}
	}
	lister, err := s.kv.ListKeysFiltered(ctx, sentPrefix(r.ID)+">")
	if err != nil {
		return fmt.Errorf("incident: list sent of %s: %w", r.ID, err)
	}
	var sent []string
	for k := range lister.Keys() {
		sent = append(sent, k)
	}
	_ = lister.Stop()
	for _, k := range sent {
		_ = s.kv.Purge(ctx, k)
	}
	if p, prev, err := s.groupPointer(ctx, r.Track.Group); err == nil && p != nil && p.ID == r.ID {
		_ = s.kv.Purge(ctx, groupKey(r.Track.Group), jetstream.LastRevision(prev))
	}
	if err := s.kv.Purge(ctx, r.ID, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("incident: purge %s: %w", r.ID, err)
	}
	return nil
}
