package incident

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// kept keeps what the engine hands on, in memory.
type kept struct {
	mu      sync.Mutex
	reviews []events.Review
	msgs    []sink.Message
}

func (k *kept) Enqueue(_ context.Context, m sink.Message) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.msgs = append(k.msgs, m)
	return nil
}
func (k *kept) Incident(context.Context, events.Incident, int) error { return nil }
func (k *kept) Notification(context.Context, events.Notification) error {
	return nil
}
func (k *kept) Review(_ context.Context, r events.Review) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reviews = append(k.reviews, r)
	return nil
}

func (k *kept) review() (events.Review, string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, m := range k.msgs {
		if m.Action == sink.ActionSummary && len(k.reviews) > 0 {
			return k.reviews[0], m.Review, true
		}
	}
	return events.Review{}, "", false
}

// healOnce runs an incident through an engine on srv's JetStream: node_down
// on gw-1, a restart that worked, the anomaly resolved, the review due.
func healOnce(t *testing.T, srv *natstest.Server) (events.Review, string) {
	t.Helper()
	return healAt(t, srv, t0, 2*time.Second)
}

// healAt is healOnce for an anomaly detected at at, mttd after its impact
// began.
func healAt(t *testing.T, srv *natstest.Server, at time.Time, mttd time.Duration) (events.Review, string) {
	t.Helper()
	_, js := srv.JetStream()
	ctx := t.Context()
	store, err := NewStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(at.UnixNano())
	k := &kept{}
	e := NewEngine(store, k, k, Config{Rules: *rules(), Window: time.Minute,
		Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }}, zerolog.Nop())
	a := anomaly(events.KindNodeDown, "gw-1", at, 0.1)
	a.ImpactStart = at.Add(-mttd)
	if _, err := e.HandleAnomaly(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := e.HandleRemediation(ctx, &events.Remediation{ID: "r1", AnomalyID: a.ID, Kind: a.Kind, Action: events.ActionRestart,
		Target: "gw-1", Phase: events.PhaseSucceeded, Attempt: 1}, at.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	now.Store(at.Add(10 * time.Second).UnixNano())
	if _, err := e.HandleAnomaly(ctx, resolved(a, at.Add(10*time.Second))); err != nil {
		t.Fatal(err)
	}
	now.Store(at.Add(time.Minute).UnixNano())
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	r, summary, ok := k.review()
	if !ok {
		t.Fatal("no review and summary after the review delay")
	}
	return r, summary
}

// The review an engine publishes, and the summary it sends, quote the
// healer's record from its bucket.
func TestReviewQuotesRecord(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	kv, err := js.KeyValue(t.Context(), events.BucketRecord)
	if err != nil {
		t.Fatal(err)
	}
	rec := events.RemedyRecord{Kind: events.KindNodeDown, Remedy: events.ActionRestart, Class: "node", Attempts: 4, Successes: 3,
		Streak: 0, VerifyBuckets: []int{0, 3, 0, 0, 0, 0, 0, 0, 0, 0}, VerifyMS: 4500}
	b, _ := json.Marshal(rec)
	if _, err := kv.Put(t.Context(), events.RecordKey(events.KindNodeDown, "node", events.ActionRestart), b); err != nil {
		t.Fatal(err)
	}
	r, summary := healOnce(t, srv)
	want := "Its record (restart for node_down on a node): succeeded 3 of 4 attempts (75%), median time to verify 2s."
	if !strings.Contains(r.Markdown, want) || !strings.Contains(summary, want) {
		t.Fatalf("lacks %q:\n%s", want, r.Markdown)
	}
}

// Without the record bucket the review is written as before.
func TestReviewWithoutRecordBucket(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	if err := js.DeleteKeyValue(t.Context(), events.BucketRecord); err != nil {
		t.Fatal(err)
	}
	r, _ := healOnce(t, srv)
	if !strings.Contains(r.Markdown, "Remedy that worked: restart on gw-1 (attempt 1)") || strings.Contains(r.Markdown, "Its record (") {
		t.Fatalf("review without the bucket:\n%s", r.Markdown)
	}
}

// A review measures its detection delay against the fleet's usual, from
// the resolved incidents of the same kind in the store.
func TestReviewDetectionAgainstUsual(t *testing.T) {
	srv := natstest.Start(t)
	for i := range 3 {
		r, _ := healAt(t, srv, t0.Add(time.Duration(i)*10*time.Minute), time.Second)
		if strings.Contains(r.Markdown, "Slow detection") {
			t.Fatalf("a usual detection called slow:\n%s", r.Markdown)
		}
	}
	r, _ := healAt(t, srv, t0.Add(time.Hour), 4*time.Second)
	want := "Slow detection: MTTD 4s against the fleet's usual 1s for node_down (the median of 3 past incidents)"
	if !strings.Contains(r.Markdown, want) {
		t.Fatalf("lacks %q:\n%s", want, r.Markdown)
	}
}
