package incident

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Ack acknowledges an incident.
func (e *Engine) Ack(ctx context.Context, c *events.IncidentCommand) (*Record, error) {
	return e.update(ctx, c.Incident, func(r *Record, now time.Time) (bool, error) { return r.ack(c, now) })
}

// Resolve resolves an incident by hand.
func (e *Engine) Resolve(ctx context.Context, c *events.IncidentCommand) (*Record, error) {
	return e.update(ctx, c.Incident, func(r *Record, now time.Time) (bool, error) { return r.resolve(c, now) })
}

// Note adds a note to an incident.
func (e *Engine) Note(ctx context.Context, c *events.NoteCommand) (*Record, error) {
	return e.update(ctx, c.Incident, func(r *Record, now time.Time) (bool, error) { return r.addNote(c, now), nil })
}

// RecordOutcome adds a notification outcome to the incident's timeline.
func (e *Engine) RecordOutcome(ctx context.Context, n *events.Notification, msgID string) error {
	_, err := e.update(ctx, n.IncidentID, func(r *Record, now time.Time) (bool, error) {
		return r.addOutcome(n, msgID, now), nil
	})
	return err
}

// Get reads an incident.
func (e *Engine) Get(ctx context.Context, id string) (*Record, error) {
	r, _, err := e.store.Get(ctx, id)
	return r, err
}

// List returns incidents in state ("" all, "open" all but resolved),
// newest first, at most limit, without timelines.
func (e *Engine) List(ctx context.Context, state string, limit int) ([]events.Incident, error) {
	ids, err := e.store.IDs(ctx)
	if err != nil {
		return nil, err
	}
	out := []events.Incident{}
	for _, id := range ids {
		r, _, err := e.store.Get(ctx, id)
		if err != nil {
			continue
		}
		if state == "open" && r.State == events.IncidentResolved || state != "" && state != "open" && r.State != state {
			continue
		}
		inc := r.Incident
		inc.Timeline = nil
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b events.Incident) int {
		if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Tick runs the clock-driven part of the policy on every unsettled
// incident (escalation, repeat, unhealed and deadline pages, reviews) and
// hands on work a crash left in a record. Replicas may tick together: each
// step is a compare-and-set.
func (e *Engine) Tick(ctx context.Context) error {
	_, _ = e.RefreshSilences(ctx) // on failure the cached ones stay
	ids, err := e.store.IDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if e.isSettled(id) {
			continue
		}
		r, err := e.update(ctx, id, func(*Record, time.Time) (bool, error) { return false, nil })
		if err != nil {
			e.log.Warn().Err(err).Str("incident", id).Msg("tick")
			continue
		}
		if r.Settled() {
			e.mu.Lock()
			e.settled[id] = true
			e.mu.Unlock()
		}
	}
	return ctx.Err()
}

func (e *Engine) isSettled(id string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.settled[id]
}

// ack acknowledges the incident: escalation stops and every paged sink
// hears of it.
func (r *Record) ack(c *events.IncidentCommand, now time.Time) (bool, error) {
	if r.seen("cmd:" + c.ID) {
		return false, nil
	}
	if r.State == events.IncidentResolved {
		return false, ErrResolved
	}
	if !r.AckedAt.IsZero() {
		return false, nil
	}
	r.AckedAt = now.UTC()
	r.note(events.TimelineEntry{Time: now, Kind: "ack", Ref: c.ID, Author: c.By, Text: withNote("acknowledged", c.Note)})
	if r.State == events.IncidentTriggered {
		r.setState(events.IncidentAcknowledged, now)
	}
	r.Change = "acknowledged"
	r.Track.NextLevelAt, r.Track.NextRepeatAt = time.Time{}, time.Time{}
	if r.Paged {
		r.queue(sink.ActionAcknowledge, r.Track.PagedSinks, "acknowledged by "+by(c.By), now)
	}
	return true, nil
}

// resolve resolves the incident by hand.
func (r *Record) resolve(c *events.IncidentCommand, now time.Time) (bool, error) {
	if r.seen("cmd:" + c.ID) {
		return false, nil
	}
	if r.State == events.IncidentResolved {
		return false, nil
	}
	r.note(events.TimelineEntry{Time: now, Kind: "state", Ref: c.ID, Author: c.By, Text: withNote("resolved by hand", c.Note)})
	r.ResolvedAt = now.UTC()
	r.Track.ManualResolve = true
	r.Track.HealDeadline = time.Time{}
	r.setState(events.IncidentResolved, now)
	r.Change = "resolved"
	return true, nil
}

// addNote adds a note to the timeline.
func (r *Record) addNote(c *events.NoteCommand, now time.Time) bool {
	if r.seen("cmd:" + c.ID) {
		return false
	}
	r.note(events.TimelineEntry{Time: now, Kind: "note", Ref: c.ID, Author: c.Author, Text: c.Text})
	r.Change = "note"
	return true
}

// addOutcome records a notification outcome reported by the outbox.
func (r *Record) addOutcome(n *events.Notification, msgID string, at time.Time) bool {
	if r.seen("out:" + msgID) {
		return false
	}
	text := n.Action + " to " + n.Sink + ": " + n.Status
	if n.Error != "" {
		text += " (" + n.Error + ")"
	}
	r.note(events.TimelineEntry{Time: at, Kind: "notification", Ref: msgID, Text: text})
	r.Change = "notification_" + n.Status
	return true
}

func withNote(s, note string) string {
	if note == "" {
		return s
	}
	return s + ": " + note
}

func by(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

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
