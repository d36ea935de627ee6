package review

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func remedyRecord(kind, remedy, class string, ok, failed int, verify time.Duration) events.RemedyRecord {
	r := events.RemedyRecord{Kind: kind, Remedy: remedy, Class: class, Attempts: ok + failed, Successes: ok,
		VerifyBuckets: make([]int, len(events.VerifyBounds)+1), WastedMS: int64(failed) * 30_000, Streak: failed}
	if failed > 0 {
		r.Failures = map[string]int{"deadline": failed}
	}
	if ok > 0 {
		r.Streak = 0
		r.VerifyMS = int64(ok) * verify.Milliseconds()
		for i, b := range events.VerifyBounds {
			if verify.Seconds() <= b {
				r.VerifyBuckets[i] = ok
				break
			}
		}
	}
	return r
}

// The review reads the healer's record from its bucket by direct get and
// quotes, in "what to tune", the success rate and median time to verify of
// the remedy that worked and the record of the one that wasted time.
func TestReviewQuotesTheRecord(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	ctx := t.Context()
	kv, err := js.KeyValue(ctx, events.BucketRecord)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, v any) {
		b, _ := json.Marshal(v)
		if _, err := kv.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	put("node_down.node.restart", remedyRecord(events.KindNodeDown, "restart", "node", 9, 1, 4*time.Second))
	put("node_down.node.webhook", remedyRecord(events.KindNodeDown, "webhook", "node", 0, 6, 0))
	put("node_down.fleet.restart", remedyRecord(events.KindNodeDown, "restart", "fleet", 1, 0, time.Second))
	put("rtt_degraded.node.drain", remedyRecord(events.KindRTTDegraded, "drain", "node", 3, 0, time.Second))
	put("node_down.node.gone", remedyRecord(events.KindNodeDown, "gone", "node", 1, 0, time.Second))
	if err := kv.Delete(ctx, "node_down.node.gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "node_down.node.junk", []byte(`{"remedy":"junk","kind":"node_down","attempts":1,"successes":5}`)); err != nil {
		t.Fatal(err)
	}

	recs, err := NewRecords(js, 2*time.Second).For(ctx, []string{events.KindNodeDown})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Class+"."+r.Remedy)
	}
	if got := strings.Join(names, ","); got != "node.restart,node.webhook,fleet.restart" {
		t.Fatalf("read %s: want the node_down records, without the deleted key and the one whose figures make no sense", got)
	}

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := Input{Incident: events.Incident{ID: "inc-1", Severity: "SEV3", Kinds: []string{events.KindNodeDown}, Nodes: []string{"gw-1"},
		ImpactStart: t0, ResolvedAt: t0.Add(40 * time.Second)}, DetectedAt: t0.Add(2 * time.Second), Records: recs,
		Actions: []events.ActionResult{
			{Action: events.ActionWebhook, Target: "gw-1", Result: events.PhaseFailed, Reason: "deadline", Attempt: 1, At: t0.Add(32 * time.Second)},
			{Action: events.ActionRestart, Target: "gw-1", Result: events.PhaseSucceeded, Attempt: 2, At: t0.Add(36 * time.Second)}}}
	_, section, _ := strings.Cut(Build(in).Markdown, "## What to tune\n")
	for _, w := range []string{
		"Remedy that worked: restart on gw-1 (attempt 2); 1 of 2 remedies tried here succeeded. Its record (restart for node_down on a node): succeeded 9 of 10 attempts (90%), median time to verify 5s.",
		"Wasted time: webhook on gw-1 failed once, about 30s in all (last: deadline). Its record (webhook for node_down on a node): succeeded 0 of 6 attempts (0%), 3m0s lost to failures, 6 failed in a row.",
	} {
		if !strings.Contains(section, w) {
			t.Fatalf("lacks %q:\n%s", w, section)
		}
	}
	// Without the record the review says what the incident alone shows.
	in.Records = nil
	_, section, _ = strings.Cut(Build(in).Markdown, "## What to tune\n")
	if strings.Contains(section, "Its record (") || !strings.Contains(section, "Remedy that worked: restart on gw-1") {
		t.Fatalf("without the record:\n%s", section)
	}
}

// An absent bucket is an error within the timeout, and a bucket made
// later is found by the next read.
func TestRecordsAbsentBucket(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	ctx := t.Context()
	if err := js.DeleteKeyValue(ctx, events.BucketRecord); err != nil {
		t.Fatal(err)
	}
	r := NewRecords(js, time.Second)
	if _, err := r.For(ctx, []string{events.KindNodeDown}); !errors.Is(err, ErrRecords) {
		t.Fatalf("absent bucket: %v, want ErrRecords", err)
	}
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool {
		rs, err := r.For(context.Background(), []string{events.KindNodeDown})
		return err == nil && len(rs) == 0
	}, "the bucket made later is not read")
}

// FuzzQuoteRecord: a value read from the record bucket that the
// contract's decoder accepts (events.DecodeRemedyRecord, fuzzed with it in
// pkg/events) is quoted in a review without a panic.
func FuzzQuoteRecord(f *testing.F) {
	b, _ := json.Marshal(remedyRecord(events.KindNodeDown, "restart", "node", 3, 1, 2*time.Second))
	f.Add(b)
	f.Add([]byte(`{"remedy":"x","kind":"k","attempts":1,"successes":1,"verify_ms":-1}`))
	f.Add([]byte(`{"remedy":"x","kind":"k","attempts":6,"streak":6,"wasted_ms":180000}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := events.DecodeRemedyRecord(b)
		if err != nil {
			return
		}
		in := Input{Incident: events.Incident{Kinds: []string{r.Kind}}, Records: []events.RemedyRecord{r}}
		_ = quoteWorked(in, events.ActionResult{Action: r.Remedy, Target: "gw-1"})
		_ = quoteWaste(in, r.Remedy, "gw-1")
	})
}
