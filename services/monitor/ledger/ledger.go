// Package ledger keeps the monitor's open anomalies: in memory for the
// detectors and the control verbs, and in the KV bucket
// events.BucketMonitor so that a restarted monitor neither fires an open
// anomaly again nor forgets to resolve it, and so that replicas share one
// set.
//
// Opening claims the key anomaly.<kind>.<target> with a KV create: the
// first replica to claim it decides the anomaly's id, a later one adopts
// the stored anomaly. Every event goes out through events.Emitter with its
// deterministic id as Nats-Msg-Id, so a republish (by a retry or a second
// replica) is stored once in WSHEAL_ANOMALIES.
//
// Open and Resolve change the set at once and never wait for NATS: the
// writes are done by Run in the background (or by Flush), and what cannot
// be written now (NATS unreachable) stays pending and is retried.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// ErrDecode is returned for a stored record that cannot be read.
var ErrDecode = errors.New("ledger: bad record")

// KeyPrefix starts every key the ledger writes.
const KeyPrefix = "anomaly."

// Key is the KV key of the open anomaly of kind on target.
func Key(kind, target string) string { return KeyPrefix + kind + "." + target }

// Record is the value stored per open anomaly.
type Record struct {
	Anomaly   events.Anomaly `json:"anomaly"`
	Published bool           `json:"published"` // its open event is stored
}

type entry struct {
	rec   Record
	rev   uint64 // KV revision of the claim; 0 while not claimed
	dirty bool   // Published changed and is not stored yet
}

// Ledger is the set of open anomalies. Its methods are safe for
// concurrent use.
type Ledger struct {
	kv  jetstream.KeyValue
	em  *events.Emitter
	log zerolog.Logger
	op  time.Duration

	// Online, when set, says whether NATS is reachable; while it is not,
	// writes are left pending instead of waiting for their timeouts.
	Online func() bool

	mu       sync.Mutex
	open     map[string]*entry
	resolved []events.Anomaly  // resolved, event or key delete pending
	last     map[string]string // key -> id of the anomaly last resolved there
	kick     chan struct{}
}

// New returns a ledger over kv (events.BucketMonitor) publishing with em.
func New(kv jetstream.KeyValue, em *events.Emitter, log zerolog.Logger) *Ledger {
	return &Ledger{kv: kv, em: em, log: log.With().Str("component", "ledger").Logger(), op: 2 * time.Second, open: map[string]*entry{}, last: map[string]string{}, kick: make(chan struct{}, 1)}
}

// Load reads the stored open anomalies and returns them.
func (l *Ledger) Load(ctx context.Context) ([]events.Anomaly, error) {
	lister, err := l.kv.ListKeysFiltered(ctx, KeyPrefix+">")
	if err != nil {
		return nil, fmt.Errorf("ledger: list: %w", err)
	}
	var out []events.Anomaly
	for key := range lister.Keys() {
		kve, err := l.kv.Get(ctx, key)
		if err != nil {
			continue // deleted meanwhile
		}
		rec, err := decode(kve.Value())
		if err != nil {
			l.log.Warn().Err(err).Str("key", key).Msg("skipping stored anomaly")
			continue
		}
		l.mu.Lock()
		l.open[key] = &entry{rec: rec, rev: kve.Revision()}
		l.mu.Unlock()
		out = append(out, rec.Anomaly)
	}
	return out, nil
}

func (l *Ledger) online() bool { return l.Online == nil || l.Online() }

func decode(b []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	if err := rec.Anomaly.Validate(); err != nil {
		return rec, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return rec, nil
}

// Open records a firing anomaly, to be claimed and published. If the
// anomaly of that kind and target is already open here it returns that one
// and false. (Another replica's claim found when writing replaces a,
// whose id then changes to the stored one.)
func (l *Ledger) Open(a events.Anomaly) (events.Anomaly, bool) {
	key := Key(a.Kind, a.Target)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.open[key]; ok {
		return e.rec.Anomaly, false
	}
	l.open[key] = &entry{rec: Record{Anomaly: a}}
	l.poke()
	return a, true
}

// poke wakes Run.
func (l *Ledger) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Run writes what Open and Resolve left to write, at once and then every
// retry interval, until ctx ends.
func (l *Ledger) Run(ctx context.Context, retry time.Duration) {
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-t.C:
		}
		l.Flush(ctx)
	}
}

// syncOpen claims, publishes and marks one open anomaly; on failure it
// stays pending.
func (l *Ledger) syncOpen(ctx context.Context, key string) {
	l.mu.Lock()
	e, ok := l.open[key]
	if !ok {
		l.mu.Unlock()
		return
	}
	rec, rev := e.rec, e.rev
	l.mu.Unlock()
	if !l.online() {
		return
	}
	if rev == 0 {
		var err error
		if rec, rev, err = l.claim(ctx, key, rec); err != nil {
			l.log.Warn().Err(err).Str("anomaly_id", rec.Anomaly.ID).Msg("anomaly not claimed yet")
			return
		}
	}
	dirty := false
	if !rec.Published {
		if err := l.publish(ctx, rec.Anomaly); err != nil {
			l.log.Warn().Err(err).Str("anomaly_id", rec.Anomaly.ID).Msg("anomaly not published yet")
			l.store(key, rec, rev, false)
			return
		}
		rec.Published, dirty = true, true
	}
	if dirty {
		octx, cancel := context.WithTimeout(ctx, l.op)
		defer cancel()
		b, _ := json.Marshal(rec)
		if r, err := l.kv.Update(octx, key, b, rev); err == nil {
			rev, dirty = r, false
		}
	}
	l.store(key, rec, rev, dirty)
}

// store writes back an entry unless it was resolved meanwhile.
func (l *Ledger) store(key string, rec Record, rev uint64, dirty bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.open[key]; ok && (e.rec.Anomaly.ID == rec.Anomaly.ID || e.rev == 0) {
		e.rec, e.rev, e.dirty = rec, rev, dirty
	}
}

// claim creates the key, or adopts what another replica stored.
func (l *Ledger) claim(ctx context.Context, key string, rec Record) (Record, uint64, error) {
	octx, cancel := context.WithTimeout(ctx, l.op)
	defer cancel()
	b, _ := json.Marshal(rec)
	rev, err := l.kv.Create(octx, key, b)
	if err == nil {
		return rec, rev, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return rec, 0, fmt.Errorf("ledger: claim %s: %w", key, err)
	}
	kve, gerr := l.kv.Get(octx, key)
	if gerr != nil {
		return rec, 0, fmt.Errorf("ledger: read claimed %s: %w", key, gerr)
	}
	stored, derr := decode(kve.Value())
	if derr != nil {
		return rec, 0, derr
	}
	l.log.Debug().Str("anomaly_id", stored.Anomaly.ID).Msg("adopted anomaly opened elsewhere")
	return stored, kve.Revision(), nil
}

// publish emits an anomaly event inside the span that starts its trace:
// the healer's decision and the notifier's incident join it through the
// message's traceparent header.
func (l *Ledger) publish(ctx context.Context, a events.Anomaly) error {
	octx, cancel := context.WithTimeout(ctx, l.op)
	defer cancel()
	octx, end := events.StartSpan(octx, "anomaly "+a.State+" "+a.Kind, events.Attr{Key: "wsheal.anomaly.id", Value: a.ID},
		events.Attr{Key: "wsheal.anomaly.kind", Value: a.Kind}, events.Attr{Key: "wsheal.anomaly.target", Value: a.Target},
		events.Attr{Key: "wsheal.anomaly.severity", Value: a.Severity})
	_, err := l.em.Emit(octx, events.AnomalySubject(a.Kind, a.Target), &a)
	end(err)
	if tid := events.TraceID(octx); tid != "" && err == nil {
		l.log.Debug().Str("anomaly_id", a.ID).Str("state", a.State).Str("trace_id", tid).Msg("anomaly published")
	}
	return err
}

// Resolve closes the open anomaly of kind on target at at; its resolution
// is published and its key deleted. It returns the resolved anomaly and
// whether one was open.
func (l *Ledger) Resolve(kind, target string, at time.Time) (events.Anomaly, bool) {
	key := Key(kind, target)
	l.mu.Lock()
	e, ok := l.open[key]
	if !ok {
		l.mu.Unlock()
		return events.Anomaly{}, false
	}
	delete(l.open, key)
	l.last[key] = e.rec.Anomaly.ID
	a := e.rec.Anomaly
	if !e.rec.Published {
		// Never stored: the open event goes out first so the trail is whole.
		l.resolved = append(l.resolved, a)
	}
	a.State, a.ResolvedAt = events.AnomalyResolved, at.UTC()
	l.resolved = append(l.resolved, a)
	l.poke()
	l.mu.Unlock()
	return a, true
}

// flushResolved publishes pending resolutions (and the open events they
// need first) and deletes their keys.
func (l *Ledger) flushResolved(ctx context.Context) {
	if !l.online() {
		return
	}
	l.mu.Lock()
	pending := l.resolved
	l.resolved = nil
	l.mu.Unlock()
	for i, a := range pending {
		if err := l.publish(ctx, a); err != nil {
			l.log.Warn().Err(err).Str("anomaly_id", a.ID).Str("state", a.State).Msg("anomaly event not published yet")
			l.mu.Lock()
			l.resolved = append(pending[i:], l.resolved...)
			l.mu.Unlock()
			return
		}
		if a.State == events.AnomalyResolved {
			l.deleteKey(ctx, a)
		}
	}
}

// deleteKey removes the key if it still holds this anomaly.
func (l *Ledger) deleteKey(ctx context.Context, a events.Anomaly) {
	octx, cancel := context.WithTimeout(ctx, l.op)
	defer cancel()
	key := Key(a.Kind, a.Target)
	kve, err := l.kv.Get(octx, key)
	if err != nil {
		return
	}
	if rec, err := decode(kve.Value()); err == nil && rec.Anomaly.ID != a.ID {
		return // a newer anomaly of the same kind and target
	}
	if err := l.kv.Delete(octx, key, jetstream.LastRevision(kve.Revision())); err != nil {
		l.log.Debug().Err(err).Str("key", key).Msg("anomaly key not deleted")
	}
}

// Flush writes whatever is pending: resolutions first, then claims and
// publications of open anomalies. Run calls it; tests may call it to
// write synchronously.
func (l *Ledger) Flush(ctx context.Context) {
	l.flushResolved(ctx)
	l.mu.Lock()
	var keys []string
	for k, e := range l.open {
		if e.rev == 0 || !e.rec.Published || e.dirty {
			keys = append(keys, k)
		}
	}
	l.mu.Unlock()
	for _, k := range keys {
		l.syncOpen(ctx, k)
	}
}

// Pending counts the anomalies with a write still to do.
func (l *Ledger) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.resolved)
	for _, e := range l.open {
		if e.rev == 0 || !e.rec.Published || e.dirty {
			n++
		}
	}
	return n
}

// LastResolved is the id of the anomaly of kind on target this ledger
// resolved last: an id must not be reused for a new anomaly, as JetStream
// would take its events for duplicates.
func (l *Ledger) LastResolved(kind, target string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[Key(kind, target)]
}

// Get returns the open anomaly of kind on target.
func (l *Ledger) Get(kind, target string) (events.Anomaly, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.open[Key(kind, target)]
	if !ok {
		return events.Anomaly{}, false
	}
	return e.rec.Anomaly, true
}

// List returns the open anomalies, oldest impact first, filtered by kind
// and target when they are not empty.
func (l *Ledger) List(kind, target string) []events.Anomaly {
	l.mu.Lock()
	out := make([]events.Anomaly, 0, len(l.open))
	for _, e := range l.open {
		a := e.rec.Anomaly
		if (kind == "" || a.Kind == kind) && (target == "" || a.Target == target || contains(a.Nodes, target)) {
			out = append(out, a)
		}
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ImpactStart.Equal(out[j].ImpactStart) {
			return out[i].ImpactStart.Before(out[j].ImpactStart)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Watch mirrors the changes other replicas make to the open set until ctx
// ends (service.WatchKV: watched again after it fails or ends).
func (l *Ledger) Watch(ctx context.Context) error {
	return service.WatchKV(ctx, l.kv, service.KVWatch{Keys: []string{KeyPrefix + ">"}, Apply: l.mirror}, l.log)
}

func (l *Ledger) mirror(kve jetstream.KeyValueEntry) {
	key := kve.Key()
	if !strings.HasPrefix(key, KeyPrefix) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.open[key]
	if kve.Operation() != jetstream.KeyValuePut {
		if ok && e.rev != 0 && kve.Revision() > e.rev {
			delete(l.open, key)
		}
		return
	}
	rec, err := decode(kve.Value())
	if err != nil {
		return
	}
	switch {
	case !ok:
		l.open[key] = &entry{rec: rec, rev: kve.Revision()}
	case e.rec.Anomaly.ID == rec.Anomaly.ID && kve.Revision() > e.rev:
		e.rec.Published = e.rec.Published || rec.Published
		e.rev = kve.Revision()
	}
}
