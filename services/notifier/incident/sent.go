package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Seen implements pipeline.Sent: was the outbox message id delivered?
func (s *Store) Seen(ctx context.Context, id string) (bool, error) {
	_, err := s.kv.Get(ctx, sentKey(id))
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("incident: sent %s: %w", id, err)
	}
	return true, nil
}

// Mark implements pipeline.Sent: record the id as delivered.
func (s *Store) Mark(ctx context.Context, id string) error {
	if _, err := s.kv.Put(ctx, sentKey(id), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("incident: mark sent %s: %w", id, err)
	}
	return nil
}

// PutSilence stores a silence.
func (s *Store) PutSilence(ctx context.Context, sl events.Silence) error {
	b, _ := json.Marshal(sl)
	if _, err := s.kv.Put(ctx, silenceKey(sl.ID), b); err != nil {
		return fmt.Errorf("incident: silence %s: %w", sl.ID, err)
	}
	return nil
}

// DeleteSilence removes a silence; false if there was none.
func (s *Store) DeleteSilence(ctx context.Context, id string) (bool, error) {
	if _, err := s.kv.Get(ctx, silenceKey(id)); notFound(err) {
		return false, nil
	}
	if err := s.kv.Purge(ctx, silenceKey(id)); err != nil {
		return false, fmt.Errorf("incident: expire silence %s: %w", id, err)
	}
	return true, nil
}

// Silences lists stored silences, purging those expired before now.
func (s *Store) Silences(ctx context.Context, now time.Time) ([]events.Silence, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "silence.>")
	if err != nil {
		return nil, fmt.Errorf("incident: silences: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var keys []string
	for k := range lister.Keys() {
		if strings.HasPrefix(k, "silence.") {
			keys = append(keys, k)
		}
	}
	var out []events.Silence
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var sl events.Silence
		if json.Unmarshal(e.Value(), &sl) != nil {
			continue
		}
		if !now.Before(sl.EndsAt) {
			_ = s.kv.Purge(ctx, k)
			continue
		}
		out = append(out, sl)
	}
	return out, nil
}
