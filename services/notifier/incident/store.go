package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Store keeps incidents in the incidents KV bucket. Keys:
//
//	inc-<hash>          the incident record (events.Incident + tracking)
//	group.<hash>        the open incident of a group (create-if-absent)
//	anomaly.<hash>      anomaly id -> incident id
//	sent.<incident>.<hash>  outbox message ids already delivered
//	silence.<hash>      silences
type Store struct {
	kv jetstream.KeyValue
	js jetstream.JetStream // reviews read the healer's record through it
}

// NewStore opens the bucket (events.Ensure created it).
func NewStore(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, events.BucketIncidents)
	if err != nil {
		return nil, fmt.Errorf("incident: bucket %s: %w", events.BucketIncidents, err)
	}
	return &Store{kv: kv, js: js}, nil
}

// pointer is the value of a group key.
type pointer struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

func groupKey(group string) string  { return "group." + hash(group)[:32] }
func anomalyKey(id string) string   { return "anomaly." + hash(id)[:32] }
func sentKey(m sink.Message) string { return sentPrefix(m.Incident.ID) + hash(m.ID)[:32] }
func silenceKey(id string) string   { return "silence." + hash(id)[:32] }
func isIncidentKey(k string) bool   { return strings.HasPrefix(k, "inc-") && !strings.Contains(k, ".") }
func notFound(err error) bool       { return errors.Is(err, jetstream.ErrKeyNotFound) }
func exists(err error) bool         { return errors.Is(err, jetstream.ErrKeyExists) }
func revMismatch(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || exists(err)
}

// Get reads an incident and its revision.
func (s *Store) Get(ctx context.Context, id string) (*Record, uint64, error) {
	e, err := s.kv.Get(ctx, id)
	if notFound(err) {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("incident: get %s: %w", id, err)
	}
	r, err := DecodeRecord(e.Value())
	if err != nil {
		return nil, 0, err
	}
	return r, e.Revision(), nil
}

// DecodeRecord parses a stored record.
func DecodeRecord(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("incident: decode record: %w", err)
	}
	if r.ID == "" {
		return nil, errors.New("incident: decode record: no id")
	}
	if r.Track.Members == nil {
		r.Track.Members = map[string]*Member{}
	}
	for id, m := range r.Track.Members {
		if m == nil {
			delete(r.Track.Members, id)
		}
	}
	return &r, nil
}

// create stores a new incident; it returns false if the id exists.
func (s *Store) create(ctx context.Context, r *Record) (bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("incident: encode: %w", err)
	}
	_, err = s.kv.Create(ctx, r.ID, b)
	if exists(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("incident: create %s: %w", r.ID, err)
	}
	return true, nil
}

// update writes r if the stored revision is still rev; it returns false
// on a conflict.
func (s *Store) update(ctx context.Context, r *Record, rev uint64) (bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("incident: encode: %w", err)
	}
	_, err = s.kv.Update(ctx, r.ID, b, rev)
	if revMismatch(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("incident: update %s: %w", r.ID, err)
	}
	return true, nil
}

// groupPointer reads the open incident of a group (nil if none).
func (s *Store) groupPointer(ctx context.Context, group string) (*pointer, uint64, error) {
	e, err := s.kv.Get(ctx, groupKey(group))
	if notFound(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("incident: group %s: %w", group, err)
	}
	var p pointer
	if err := json.Unmarshal(e.Value(), &p); err != nil || p.ID == "" {
		return nil, e.Revision(), nil // unreadable: replace it
	}
	return &p, e.Revision(), nil
}

// setGroupPointer creates (rev 0) or replaces the pointer; false on a race lost.
func (s *Store) setGroupPointer(ctx context.Context, group string, p pointer, rev uint64) (bool, error) {
	b, _ := json.Marshal(p)
	var err error
	if rev == 0 {
		_, err = s.kv.Create(ctx, groupKey(group), b)
	} else {
		_, err = s.kv.Update(ctx, groupKey(group), b, rev)
	}
	if revMismatch(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("incident: group pointer %s: %w", group, err)
	}
	return true, nil
}

// IncidentOf returns the incident of an anomaly ("" if none).
func (s *Store) IncidentOf(ctx context.Context, anomalyID string) (string, error) {
	e, err := s.kv.Get(ctx, anomalyKey(anomalyID))
	if notFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("incident: anomaly index: %w", err)
	}
	return string(e.Value()), nil
}

func (s *Store) index(ctx context.Context, anomalyID, incidentID string) error {
	if _, err := s.kv.PutString(ctx, anomalyKey(anomalyID), incidentID); err != nil {
		return fmt.Errorf("incident: anomaly index: %w", err)
	}
	return nil
}

// IDs lists the incident ids in the bucket.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "*")
	if err != nil {
		return nil, fmt.Errorf("incident: list: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var out []string
	for k := range lister.Keys() {
		if isIncidentKey(k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Seen implements pipeline.Sent: was the outbox message delivered?
func (s *Store) Seen(ctx context.Context, m sink.Message) (bool, error) {
	_, err := s.kv.Get(ctx, sentKey(m))
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("incident: sent %s: %w", m.ID, err)
	}
	return true, nil
}

// Mark implements pipeline.Sent: record the message as delivered.
func (s *Store) Mark(ctx context.Context, m sink.Message) error {
	if _, err := s.kv.Put(ctx, sentKey(m), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("incident: mark sent %s: %w", m.ID, err)
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

// sentPrefix is the key prefix of an incident's sent records; an id that
// is not a plain token (from a damaged message) is hashed.
func sentPrefix(incident string) string {
	if !plainToken(incident) {
		incident = hash(incident)[:16]
	}
	return "sent." + incident + "."
}

func plainToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
