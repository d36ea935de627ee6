package incident

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrRetry says an event arrived before what it refers to; the caller
// should deliver it again later.
var ErrRetry = errors.New("incident: not ready, retry later")

// HandleAnomaly applies an anomaly event: an open anomaly joins the open
// incident of its group or opens one; a resolved anomaly closes its
// member and may resolve the incident. It returns the incident id.
func (e *Engine) HandleAnomaly(ctx context.Context, a *events.Anomaly) (string, error) {
	if a.State == events.AnomalyResolved {
		return e.resolveAnomaly(ctx, a)
	}
	if id, err := e.store.IncidentOf(ctx, a.ID); err != nil {
		return "", err
	} else if id != "" {
		_, err := e.update(ctx, id, e.attach(a))
		if err == nil || !errors.Is(err, ErrNotFound) && !errors.Is(err, errNotAttachable) {
			return id, err
		}
	}
	return e.openAnomaly(ctx, a)
}

func (e *Engine) resolveAnomaly(ctx context.Context, a *events.Anomaly) (string, error) {
	id, err := e.store.IncidentOf(ctx, a.ID)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("%w: anomaly %s has no incident yet", ErrRetry, a.ID)
	}
	_, err = e.update(ctx, id, func(r *Record, now time.Time) (bool, error) { return r.resolveAnomaly(a, now) })
	if errors.Is(err, ErrNotMember) || errors.Is(err, ErrNotFound) {
		return id, fmt.Errorf("%w: %w", ErrRetry, err)
	}
	return id, err
}

// openAnomaly finds or creates the group's open incident. The group
// pointer is created if absent (or replaced by revision), so replicas
// that race agree on one incident.
func (e *Engine) openAnomaly(ctx context.Context, a *events.Anomaly) (string, error) {
	group := Group(a)
	for range maxTries {
		ptr, rev, err := e.store.groupPointer(ctx, group)
		if err != nil {
			return "", err
		}
		if ptr == nil {
			key := Key(group, a)
			ptr2 := pointer{ID: ID(key), Key: key}
			if ok, err := e.store.setGroupPointer(ctx, group, ptr2, rev); err != nil || !ok {
				if err != nil {
					return "", err
				}
				continue
			}
			ptr = &ptr2
		}
		id, err := e.join(ctx, group, *ptr, a)
		if errors.Is(err, errNotAttachable) {
			key := Key(group, a)
			if ID(key) == ptr.ID { // the same second: cannot open a second incident under one key
				key += "-" + a.ID
			}
			if _, err := e.store.setGroupPointer(ctx, group, pointer{ID: ID(key), Key: key}, rev); err != nil {
				return "", err
			}
			continue
		}
		return id, err
	}
	return "", fmt.Errorf("%w: group %s", ErrConflict, group)
}

// join adds a to the incident the pointer names, creating it if it does
// not exist yet.
func (e *Engine) join(ctx context.Context, group string, ptr pointer, a *events.Anomaly) (string, error) {
	if err := e.store.index(ctx, a.ID, ptr.ID); err != nil {
		return "", err
	}
	// A new incident may page at once: it is judged against the silences
	// as stored now, not as this replica last read them (one added through
	// another replica a moment ago must hold).
	_, _ = e.RefreshSilences(ctx) // on failure the cached ones apply
	now := e.cfg.Now().UTC()
	rec := newRecord(ptr.ID, ptr.Key, group, a, now)
	rec.Track.Seq = 1
	rules := e.rules()
	rec.decide(&rules, now)
	e.finalize(ctx, rec)
	created, err := e.store.create(ctx, rec)
	if err != nil {
		return "", err
	}
	if created {
		e.log.Info().Str("incident", rec.ID).Str("key", rec.Key).Str("severity", rec.Severity).
			Str("anomaly", a.ID).Msg("incident opened")
		return rec.ID, e.flush(ctx, rec)
	}
	_, err = e.update(ctx, ptr.ID, e.attach(a))
	return ptr.ID, err
}

// attach adds a to an incident that is still open to it: not resolved,
// and a detected within the window of the incident's latest anomaly.
func (e *Engine) attach(a *events.Anomaly) change {
	return func(r *Record, _ time.Time) (bool, error) {
		if _, member := r.Track.Members[a.ID]; member {
			return r.addAnomaly(a), nil
		}
		if r.State == events.IncidentResolved || a.DetectedAt.Sub(r.Track.LastAnomalyAt) > e.cfg.Window {
			return false, errNotAttachable
		}
		return r.addAnomaly(a), nil
	}
}

// HandleRemediation applies a remediation event published at at.
func (e *Engine) HandleRemediation(ctx context.Context, rem *events.Remediation, at time.Time) (string, error) {
	if rem.AnomalyID == "" {
		return "", ErrNoAnomaly
	}
	id, err := e.store.IncidentOf(ctx, rem.AnomalyID)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("%w: anomaly %s has no incident yet", ErrRetry, rem.AnomalyID)
	}
	pageAfter := e.cfg.Rules.Policy.PageAfterFailures
	_, err = e.update(ctx, id, func(r *Record, _ time.Time) (bool, error) {
		return r.addRemediation(rem, at, pageAfter), nil
	})
	return id, err
}
