// Package state keeps the healer's durable state in the healer KV bucket,
// shared by every replica: the pause and dry-run switches, hands-off locks,
// quarantines, backoff counters, heals per node and incident progress.
package state

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/safety"
)

// ErrStore wraps every failure to read or write the healer bucket.
var ErrStore = errors.New("state: store")

// Store is the healer bucket.
type Store struct {
	kv jetstream.KeyValue
	// desired is the shared desired-state bucket, where a quarantine is
	// published for the monitor (events.QuarantineKey).
	desired jetstream.KeyValue
}

// Open binds the healer bucket (ensured by the contract).
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, events.BucketHealer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStore, events.BucketHealer, err)
	}
	desired, err := js.KeyValue(ctx, events.BucketDesired)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStore, events.BucketDesired, err)
	}
	return &Store{kv: kv, desired: desired}, nil
}

// Key makes a KV key token of any string: kept as is when it only holds
// letters, digits, '-' and '_', else base64url after '='.
func Key(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "=" + base64.RawURLEncoding.EncodeToString([]byte(s))
		}
	}
	if s == "" {
		return "="
	}
	return s
}

// unkey reverses Key.
func unkey(k string) string {
	if rest, ok := strings.CutPrefix(k, "="); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err == nil {
			return string(b)
		}
	}
	return k
}

// get reads key into v; found false when absent.
func (s *Store) get(ctx context.Context, key string, v any) (uint64, bool, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("%w: get %s: %w", ErrStore, key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, false, fmt.Errorf("%w: decode %s: %w", ErrStore, key, err)
	}
	return e.Revision(), true, nil
}

func (s *Store) put(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encode %s: %w", ErrStore, key, err)
	}
	if _, err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("%w: put %s: %w", ErrStore, key, err)
	}
	return nil
}

func (s *Store) del(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: delete %s: %w", ErrStore, key, err)
	}
	return nil
}

// update applies f to the value at key with a revision check, retrying
// when another replica wrote in between.
func update[T any](ctx context.Context, s *Store, key string, f func(*T)) (T, error) {
	for range 10 {
		var v T
		rev, found, err := s.get(ctx, key, &v)
		if err != nil {
			return v, err
		}
		f(&v)
		b, err := json.Marshal(v)
		if err != nil {
			return v, fmt.Errorf("%w: encode %s: %w", ErrStore, key, err)
		}
		if found {
			_, err = s.kv.Update(ctx, key, b, rev)
		} else {
			_, err = s.kv.Create(ctx, key, b)
		}
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !strings.Contains(err.Error(), "wrong last sequence") {
			return v, fmt.Errorf("%w: update %s: %w", ErrStore, key, err)
		}
	}
	var zero T
	return zero, fmt.Errorf("%w: update %s: too much contention", ErrStore, key)
}

// keys lists the keys under prefix, unkeyed.
func (s *Store) keys(ctx context.Context, prefix string) ([]string, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, prefix+".>")
	if err != nil {
		return nil, fmt.Errorf("%w: list %s: %w", ErrStore, prefix, err)
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, unkey(strings.TrimPrefix(k, prefix+".")))
	}
	return out, nil
}

// Backoff reads the attempts of (target, action).
func (s *Store) Backoff(ctx context.Context, target, action string) (safety.Attempts, error) {
	var a safety.Attempts
	_, _, err := s.get(ctx, "backoff."+Key(target)+"."+action, &a)
	return a, err
}

// RecordAttempt counts an attempt of (target, action) at now.
func (s *Store) RecordAttempt(ctx context.Context, b safety.Backoff, target, action string, now time.Time) error {
	_, err := update(ctx, s, "backoff."+Key(target)+"."+action, func(a *safety.Attempts) { *a = b.Record(*a, now) })
	return err
}

// TakeToken spends a token of the budget shared by every replica; when
// none is left it returns false and how long until one is.
func (s *Store) TakeToken(ctx context.Context, b safety.Budget, now time.Time) (bool, time.Duration, error) {
	var ok bool
	var wait time.Duration
	_, err := update(ctx, s, "budget", func(t *safety.Tokens) { *t, ok, wait = b.Take(*t, now) })
	return ok, wait, err
}

// Tokens reads the shared budget's level at now.
func (s *Store) Tokens(ctx context.Context, b safety.Budget, now time.Time) (float64, error) {
	var t safety.Tokens
	_, _, err := s.get(ctx, "budget", &t)
	return b.Refill(t, now).Level, err
}

// Heals returns the recorded heals of a node.
func (s *Store) Heals(ctx context.Context, node string) ([]time.Time, error) {
	var h []time.Time
	_, _, err := s.get(ctx, "heals."+Key(node), &h)
	return h, err
}

// RecordHeal adds a heal of node at now, keeping those within window.
func (s *Store) RecordHeal(ctx context.Context, node string, now time.Time, window time.Duration) error {
	_, err := update(ctx, s, "heals."+Key(node), func(h *[]time.Time) {
		*h = append(safety.Recent(*h, now, window), now)
	})
	return err
}

// Incident is the progress of the healer on one anomaly, written before
// each action so that a replica that takes over after a crash carries on
// from it (same attempt, same command ids).
type Incident struct {
	AnomalyID string    `json:"anomaly_id"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target"`
	Policy    string    `json:"policy"`
	Opened    time.Time `json:"opened"`
	// Current is the attempt in flight (0: none); Attempts counts attempts
	// started; Failures counts failed verifications.
	Current   int       `json:"current"`
	StartedAt time.Time `json:"started_at,omitzero"`
	Attempts  int       `json:"attempts"`
	Failures  int       `json:"failures"`
	Requested int       `json:"requested"` // last attempt announced as requested
	Tried     []string  `json:"tried,omitempty"`
	// LastSkip is the last skip reason published, so that a waiting
	// incident says so once.
	LastSkip string `json:"last_skip,omitempty"`
	Done     bool   `json:"done"`
	Outcome  string `json:"outcome,omitempty"`
	// Restore is set while a node's admission is lowered: restored once the
	// anomaly resolved and RestoreAfter passed.
	Restore      []string      `json:"restore,omitempty"`
	RestoreAfter time.Duration `json:"restore_after,omitempty"`
	// Before is the process identity (fleet.Node.Identity) of each target
	// when the attempt in flight began: a restart is verified only by
	// heartbeats of another process.
	Before map[string]string `json:"before,omitempty"`
}

// Incident reads the progress on an anomaly; found false when new.
func (s *Store) Incident(ctx context.Context, anomalyID string) (Incident, bool, error) {
	var inc Incident
	_, found, err := s.get(ctx, "incident."+Key(anomalyID), &inc)
	return inc, found, err
}

// SaveIncident writes the progress.
func (s *Store) SaveIncident(ctx context.Context, inc Incident) error {
	return s.put(ctx, "incident."+Key(inc.AnomalyID), inc)
}

// PruneIncidents deletes finished incidents opened before cutoff; it
// returns how many went.
func (s *Store) PruneIncidents(ctx context.Context, cutoff time.Time) (int, error) {
	ids, err := s.keys(ctx, "incident")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		inc, found, err := s.Incident(ctx, id)
		if err != nil {
			return n, err
		}
		if found && inc.Done && len(inc.Restore) == 0 && inc.Opened.Before(cutoff) {
			if err := s.del(ctx, "incident."+Key(id)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
