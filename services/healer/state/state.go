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
// letters, digits, '-' and '_', else base64url after '=' (the encoding of
// the record's keys too, events.RecordKeyToken).
func Key(s string) string { return events.RecordKeyToken(s) }

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

// Budget reads the shared budget as stored (not refilled).
func (s *Store) Budget(ctx context.Context) (safety.Tokens, error) {
	var t safety.Tokens
	_, _, err := s.get(ctx, "budget", &t)
	return t, err
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

// Case is the progress of the healer on one anomaly, written before each
// action so that a replica that takes over after a crash carries on from
// it (same attempt, same command ids). ("Incident" is the notifier's word
// for what people see; a case is the healer's own record.) It is stored
// under "incident.<anomaly>" with the field names of the record it
// replaced, so replicas of either version read each other's cases.
type Case struct {
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
	// Order is the order of the policy's ladder chosen when the first
	// attempt began (indices into its actions), and Choice why: every
	// later attempt of the case walks the same order.
	Order  []int                `json:"order,omitempty"`
	Choice *events.RemedyChoice `json:"choice,omitempty"`
	// Removing is the node a scale-in attempt removes, chosen when it
	// began (the least loaded), so that a replica resuming the attempt
	// drains and removes the same node.
	Removing string `json:"removing,omitempty"`
}

// caseKey is the bucket key of the case of an anomaly (the prefix of the
// record the case replaced, kept so stored cases stay readable).
func caseKey(anomalyID string) string { return "incident." + Key(anomalyID) }

// Case reads the progress on an anomaly; found false when new.
func (s *Store) Case(ctx context.Context, anomalyID string) (Case, bool, error) {
	var c Case
	_, found, err := s.get(ctx, caseKey(anomalyID), &c)
	return c, found, err
}

// SaveCase writes the progress.
func (s *Store) SaveCase(ctx context.Context, c Case) error {
	return s.put(ctx, caseKey(c.AnomalyID), c)
}

// PruneCases deletes finished cases opened before cutoff; it returns how
// many went.
func (s *Store) PruneCases(ctx context.Context, cutoff time.Time) (int, error) {
	ids, err := s.keys(ctx, "incident")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		c, found, err := s.Case(ctx, id)
		if err != nil {
			return n, err
		}
		if found && c.Done && len(c.Restore) == 0 && c.Opened.Before(cutoff) {
			if err := s.del(ctx, caseKey(id)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
