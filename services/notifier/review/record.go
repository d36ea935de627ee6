package review

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrRecords wraps every failure to read the healer's record.
var ErrRecords = errors.New("review: record")

// kvOperation is the header that marks a deleted or purged key.
const kvOperation = "KV-Operation"

// MaxRecords bounds the records read for one anomaly kind.
const MaxRecords = 64

// Records reads the healer's record (events.BucketRecord) for reviews,
// read-only: stream info and direct gets of the bucket's stream, the only
// permissions the notifier's NATS user has on it (no consumer, no write).
// The bucket is bound on first use and again after a failure, so a bucket
// made after the notifier started is found.
type Records struct {
	js      jetstream.JetStream
	timeout time.Duration

	mu     sync.Mutex
	stream jetstream.Stream
}

// NewRecords returns a reader whose every read ends within timeout.
func NewRecords(js jetstream.JetStream, timeout time.Duration) *Records {
	return &Records{js: js, timeout: timeout}
}

// For reads the records of the anomaly kinds, every class and remedy.
// Values that do not decode are skipped; an absent or unreadable bucket
// is an error (ErrRecords), and the review then does without the record.
func (r *Records) For(ctx context.Context, kinds []string) ([]events.RemedyRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	s, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	var out []events.RemedyRecord
	for _, k := range kinds {
		rs, err := scan(ctx, s, "$KV."+events.BucketRecord+"."+events.RecordKeyFilter(k, ""))
		if err != nil {
			r.reset()
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

func (r *Records) open(ctx context.Context) (jetstream.Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream != nil {
		return r.stream, nil
	}
	s, err := r.js.Stream(ctx, "KV_"+events.BucketRecord)
	if err != nil {
		return nil, fmt.Errorf("%w: bucket %s: %w", ErrRecords, events.BucketRecord, err)
	}
	r.stream = s
	return s, nil
}

func (r *Records) reset() {
	r.mu.Lock()
	r.stream = nil
	r.mu.Unlock()
}

// scan reads, by direct get, the values of the keys under filter: each
// read asks for the next message at or after a sequence. The bucket keeps
// one value per key, so each message is a key's latest value.
func scan(ctx context.Context, s jetstream.Stream, filter string) ([]events.RemedyRecord, error) {
	var out []events.RemedyRecord
	seq := uint64(1)
	for len(out) < MaxRecords {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read %s: %w", ErrRecords, filter, err)
		}
		seq = m.Sequence + 1
		if m.Header.Get(kvOperation) != "" {
			continue // a delete or purge marker
		}
		if rec, err := events.DecodeRemedyRecord(m.Data); err == nil {
			out = append(out, rec)
		}
	}
	return out, nil
}
