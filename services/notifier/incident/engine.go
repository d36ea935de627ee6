package incident

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/review"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// maxTries bounds compare-and-set retries of one change.
const maxTries = 50

// recordTimeout bounds a review's read of the healer's record; past it
// the review is written without the record.
const recordTimeout = 2 * time.Second

// Outbox takes messages for delivery; Enqueue is idempotent per message id.
type Outbox interface {
	Enqueue(ctx context.Context, m sink.Message) error
}

// Publisher publishes the notifier's events; each is idempotent per id.
type Publisher interface {
	Incident(ctx context.Context, inc events.Incident, seq int) error
	Review(ctx context.Context, r events.Review) error
	Notification(ctx context.Context, n events.Notification) error
}

// Config tunes an Engine.
type Config struct {
	Rules Rules
	// Window groups an anomaly into an open incident of its group when it
	// was detected within Window of the incident's latest anomaly.
	Window time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Engine applies events and commands to incidents. Safe for concurrent
// use, and across replicas: every change is a compare-and-set.
type Engine struct {
	store *Store
	out   Outbox
	pub   Publisher
	log   zerolog.Logger
	cfg   Config

	records *review.Records // nil without JetStream

	mu       sync.RWMutex
	silences []events.Silence
	// silenceReads numbers the reads of the silences; silencesSeq is the
	// number of the read cached.
	silenceReads atomic.Uint64
	silencesSeq  uint64
	settled      map[string]bool
}

// NewEngine returns an engine.
func NewEngine(store *Store, out Outbox, pub Publisher, cfg Config, log zerolog.Logger) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Engine{store: store, out: out, pub: pub, cfg: cfg, settled: map[string]bool{},
		log: log.With().Str("component", "incident").Logger()}
	if store != nil && store.js != nil {
		e.records = review.NewRecords(store.js, recordTimeout)
	}
	return e
}

// Store is the engine's store.
func (e *Engine) Store() *Store { return e.store }

func (e *Engine) rules() Rules {
	e.mu.RLock()
	defer e.mu.RUnlock()
	r := e.cfg.Rules
	r.Silences = e.silences
	return r
}

// RefreshSilences reads the silences in force from the store, caches
// them and returns them. A read never replaces one that began after it:
// a tick's slow read cannot undo a silence that a control request added
// (and read back) meanwhile.
func (e *Engine) RefreshSilences(ctx context.Context) ([]events.Silence, error) {
	if e.store == nil {
		return e.rules().Silences, nil
	}
	seq := e.silenceReads.Add(1)
	list, err := e.store.Silences(ctx, e.cfg.Now())
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if seq > e.silencesSeq {
		e.silences, e.silencesSeq = list, seq
	}
	return list, nil
}

// change is a mutation of a record at now; it reports whether it changed it.
type change func(r *Record, now time.Time) (bool, error)

// update applies fn and the paging policy to incident id with a
// compare-and-set, retrying on conflicts, then hands pending work on.
func (e *Engine) update(ctx context.Context, id string, fn change) (*Record, error) {
	for range maxTries {
		r, rev, err := e.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		now := e.cfg.Now().UTC()
		r.Track.Seq++
		changed, err := fn(r, now)
		if err != nil {
			return r, err
		}
		rules := e.rules()
		if r.decide(&rules, now) {
			changed = true
		}
		if !changed {
			r.Track.Seq--
			return r, e.flush(ctx, r)
		}
		e.finalize(ctx, r)
		ok, err := e.store.update(ctx, r, rev)
		if err != nil {
			return nil, err
		}
		if ok {
			return r, e.flush(ctx, r)
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrConflict, id)
}

// finalize fills the snapshots of messages queued by this change.
func (e *Engine) finalize(ctx context.Context, r *Record) {
	snap := r.Snapshot()
	for i := range r.Track.Pending {
		m := &r.Track.Pending[i]
		if m.Incident.ID != "" {
			continue
		}
		m.Incident = snap
		if m.Action == sink.ActionSummary {
			m.Review = e.review(ctx, r).Markdown
		}
	}
	for i := range r.Track.Notices {
		r.Track.Notices[i].Level = max(r.Track.Notices[i].Level, r.Level)
	}
}

func (e *Engine) review(ctx context.Context, r *Record) events.Review {
	return review.Build(review.Input{
		Incident: r.Incident, Actions: r.Track.Actions, DetectedAt: r.Track.DetectedAt,
		Human: r.Track.ManualResolve || !r.AckedAt.IsZero(), Detection: r.detection(),
		Records: e.recordsFor(ctx, r), Past: e.pastDetections(ctx, r),
	})
}

// maxPast bounds the past incidents a review reads for the fleet's usual
// detection delay.
const maxPast = 500

// pastDetections reads the detection delays of the other resolved
// incidents in the store that share a kind with r (bounded in number and
// by recordTimeout); what cannot be read in time is left out.
func (e *Engine) pastDetections(ctx context.Context, r *Record) []review.Past {
	if len(r.Incident.Kinds) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	ids, err := e.store.IDs(ctx)
	if err != nil {
		return nil
	}
	var out []review.Past
	for i, id := range ids {
		if i >= maxPast || ctx.Err() != nil {
			break
		}
		if id == r.ID {
			continue
		}
		p, _, err := e.store.Get(ctx, id)
		if err != nil || p.State != events.IncidentResolved || p.ImpactStart.IsZero() || p.Track.DetectedAt.IsZero() ||
			!slices.ContainsFunc(p.Kinds, func(k string) bool { return slices.Contains(r.Incident.Kinds, k) }) {
			continue
		}
		out = append(out, review.Past{ID: p.ID, Kinds: p.Kinds, MTTD: p.Track.DetectedAt.Sub(p.ImpactStart)})
	}
	return out
}

// recordsFor reads the healer's records of the incident's kinds; without
// them (no bucket, no permission, too slow) the review says what the
// incident alone shows.
func (e *Engine) recordsFor(ctx context.Context, r *Record) []events.RemedyRecord {
	if e.records == nil || len(r.Incident.Kinds) == 0 {
		return nil
	}
	rs, err := e.records.For(ctx, r.Incident.Kinds)
	if err != nil {
		e.log.Warn().Err(err).Str("incident", r.ID).Msg("review written without the healer's record")
		return nil
	}
	return rs
}

// flush enqueues pending messages, publishes the incident's change, its
// notices and its due review, then clears what was handed on. A failure
// leaves the work in the record for the next sweep.
func (e *Engine) flush(ctx context.Context, r *Record) error {
	if !r.Dirty() {
		return nil
	}
	var done flushed
	for _, m := range r.Track.Pending {
		if err := e.out.Enqueue(ctx, m); err != nil {
			return fmt.Errorf("incident: %s: %w", r.ID, err)
		}
		done.msgs = append(done.msgs, m.ID)
	}
	for _, n := range r.Track.Notices {
		if err := e.pub.Notification(ctx, n); err != nil {
			break
		}
		done.notices = append(done.notices, n)
	}
	if r.Track.PublishedSeq < r.Track.Seq {
		if err := e.pub.Incident(ctx, r.Snapshot(), r.Track.Seq); err == nil {
			done.seq = r.Track.Seq
		}
	}
	if r.Track.ReviewDue {
		if err := e.pub.Review(ctx, e.review(ctx, r)); err == nil {
			done.review = true
		}
	}
	return e.clear(ctx, r.ID, done)
}

type flushed struct {
	msgs    []string
	notices []events.Notification
	seq     int
	review  bool
}

func (e *Engine) clear(ctx context.Context, id string, done flushed) error {
	for range maxTries {
		r, rev, err := e.store.Get(ctx, id)
		if err != nil {
			return err
		}
		t := &r.Track
		t.Pending = slices.DeleteFunc(t.Pending, func(m sink.Message) bool { return slices.Contains(done.msgs, m.ID) })
		for _, n := range done.notices {
			if i := slices.Index(t.Notices, n); i >= 0 {
				t.Notices = slices.Delete(t.Notices, i, i+1)
			}
		}
		t.PublishedSeq = max(t.PublishedSeq, done.seq)
		if done.review {
			t.ReviewDue, t.ReviewDone = false, true
		}
		ok, err := e.store.update(ctx, r, rev)
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("%w: clearing %s", ErrConflict, id)
}
