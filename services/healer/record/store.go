package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrStore wraps every failure to read or write the record bucket.
var ErrStore = errors.New("record: store")

// Store is the record bucket.
type Store struct {
	kv jetstream.KeyValue
}

// Open binds the record bucket (ensured by the contract, events.Buckets).
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, events.BucketRecord)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStore, events.BucketRecord, err)
	}
	return &Store{kv: kv}, nil
}

// Add counts an outcome into its record with a revision check, retrying
// when another replica wrote in between: two replicas never lose an
// update.
func (s *Store) Add(ctx context.Context, o Outcome) (events.RemedyRecord, error) {
	key := events.RecordKey(o.Kind, o.Class, o.Remedy)
	for range 20 {
		var r events.RemedyRecord
		rev, found, err := s.get(ctx, key, &r)
		if errors.Is(err, errDecode) {
			// An unreadable value is replaced, not acted on.
			r, found, err = events.RemedyRecord{}, true, nil
		}
		if err != nil {
			return r, err
		}
		Add(&r, o)
		b, err := json.Marshal(r)
		if err != nil {
			return r, fmt.Errorf("%w: encode %s: %w", ErrStore, key, err)
		}
		if found {
			_, err = s.kv.Update(ctx, key, b, rev)
		} else {
			_, err = s.kv.Create(ctx, key, b)
		}
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !strings.Contains(err.Error(), "wrong last sequence") {
			return r, fmt.Errorf("%w: update %s: %w", ErrStore, key, err)
		}
	}
	return events.RemedyRecord{}, fmt.Errorf("%w: update %s: too much contention", ErrStore, key)
}

// For reads the records of an anomaly kind on a class of target, by
// remedy.
func (s *Store) For(ctx context.Context, kind, class string) (map[string]events.RemedyRecord, error) {
	rs, err := s.list(ctx, events.RecordKeyFilter(kind, class))
	if err != nil {
		return nil, err
	}
	out := make(map[string]events.RemedyRecord, len(rs))
	for _, r := range rs {
		out[r.Remedy] = r
	}
	return out, nil
}

// All reads every record, ordered by kind, class and remedy; kind, when
// set, keeps only its records.
func (s *Store) All(ctx context.Context, kind string) ([]events.RemedyRecord, error) {
	rs, err := s.list(ctx, events.RecordKeyFilter(kind, ""))
	if err != nil {
		return nil, err
	}
	events.SortRemedyRecords(rs)
	return rs, nil
}

func (s *Store) list(ctx context.Context, filter string) ([]events.RemedyRecord, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("%w: list %s: %w", ErrStore, filter, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	out := make([]events.RemedyRecord, 0, len(keys))
	for _, k := range keys {
		var r events.RemedyRecord
		_, found, err := s.get(ctx, k, &r)
		if err != nil {
			// A value that does not decode is not acted on: skipped.
			if errors.Is(err, errDecode) {
				continue
			}
			return nil, err
		}
		if found {
			out = append(out, r)
		}
	}
	return out, nil
}

var errDecode = errors.New("record: value does not decode")

func (s *Store) get(ctx context.Context, key string, v *events.RemedyRecord) (uint64, bool, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("%w: get %s: %w", ErrStore, key, err)
	}
	r, err := events.DecodeRemedyRecord(e.Value())
	if err != nil {
		return e.Revision(), false, fmt.Errorf("%w: %w: %s: %w", ErrStore, errDecode, key, err)
	}
	*v = r
	return e.Revision(), true, nil
}
