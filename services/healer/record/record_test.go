package record_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/record"
)

func TestAddScoreMedian(t *testing.T) {
	var r events.RemedyRecord
	if s := record.Score(r); s != 0.5 {
		t.Fatalf("untried score %v, want 0.5", s)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := record.Outcome{Kind: "node_down", Remedy: "restart", Class: record.ClassNode, At: at}
	fail := o
	fail.Reason, fail.Took, fail.Paged = record.ReasonError, 3*time.Second, true
	record.Add(&r, fail)
	record.Add(&r, fail)
	if r.Streak != 2 || r.Failures[record.ReasonError] != 2 || r.Pages != 2 || r.WastedMS != 6000 {
		t.Fatalf("after two failures: %+v", r)
	}
	for _, d := range []time.Duration{500 * time.Millisecond, 4 * time.Second, 4 * time.Second} {
		ok := o
		ok.OK, ok.Took, ok.ClientsMoved = true, d, 7
		record.Add(&r, ok)
	}
	if r.Attempts != 5 || r.Successes != 3 || r.Streak != 0 || r.ClientsMoved != 21 {
		t.Fatalf("after three successes: %+v", r)
	}
	if s := record.Score(r); s != 4.0/7 {
		t.Fatalf("score %v, want 4/7", s)
	}
	if m := record.MedianVerify(r); m != 5*time.Second {
		t.Fatalf("median %v, want 5s (the bucket of 4s)", m)
	}
	for range 20 {
		record.Add(&r, fail)
	}
	if len(r.Last) != record.LastN || r.Last[len(r.Last)-1].OK {
		t.Fatalf("last outcomes: %d", len(r.Last))
	}
	var slow events.RemedyRecord
	ok := o
	ok.OK, ok.Took = true, 10*time.Minute
	record.Add(&slow, ok)
	if m := record.MedianVerify(slow); m != 10*time.Minute {
		t.Fatalf("median above every bound %v, want the mean 10m", m)
	}
}

func TestClass(t *testing.T) {
	if record.Class(events.FleetTarget) != record.ClassFleet || record.Class("gw-1") != record.ClassNode {
		t.Fatal("class")
	}
}

// Two replicas (two connections) add outcomes to the same record at once:
// none is lost; a restarted server keeps them.
func TestStoreConcurrentAndDurable(t *testing.T) {
	srv := natstest.Start(t)
	ctx := context.Background()
	stores := make([]*record.Store, 2)
	for i := range stores {
		_, js := srv.JetStream()
		s, err := record.Open(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	var wg sync.WaitGroup
	const each = 15
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				o := record.Outcome{Kind: "stale_spike", Remedy: "reconnect-stale", Class: record.ClassNode,
					OK: (i+j)%2 == 0, Took: time.Second, At: time.Now()}
				if _, err := s.Add(ctx, o); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := stores[0].Add(ctx, record.Outcome{Kind: "node_down", Remedy: "restart", Class: record.ClassNode, OK: true, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	_, js := srv.JetStream()
	s, err := record.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]events.RemedyRecord
	natstest.Eventually(t, 10*time.Second, func() bool {
		got, err = s.For(ctx, "stale_spike", record.ClassNode)
		return err == nil
	}, "record readable after restart: %v", err)
	r := got["reconnect-stale"]
	if r.Attempts != 2*each || r.Successes+r.Failures[record.ReasonDeadline] != 2*each {
		t.Fatalf("lost updates: %+v", r)
	}
	all, err := s.All(ctx, "")
	if err != nil || len(all) != 2 || all[0].Kind != "node_down" {
		t.Fatalf("all: %+v %v", all, err)
	}
	only, err := s.All(ctx, "node_down")
	if err != nil || len(only) != 1 {
		t.Fatalf("filtered: %+v %v", only, err)
	}
}

// A value that does not decode, or whose figures make no sense, is not
// acted on; the next outcome replaces it.
func TestStoreBadValue(t *testing.T) {
	srv := natstest.Start(t)
	ctx := context.Background()
	_, js := srv.JetStream()
	kv, err := js.KeyValue(ctx, events.BucketRecord)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, events.RecordKey("node_down", "node", "restart"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, events.RecordKey("node_down", "node", "drain"), []byte(`{"remedy":"drain","attempts":1,"successes":9}`)); err != nil {
		t.Fatal(err)
	}
	s, err := record.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.For(ctx, "node_down", "node")
	if err != nil || len(got) != 0 {
		t.Fatalf("bad values read as records: %+v %v", got, err)
	}
	r, err := s.Add(ctx, record.Outcome{Kind: "node_down", Remedy: "restart", Class: "node", OK: true, At: time.Now()})
	if err != nil || r.Attempts != 1 {
		t.Fatalf("replace: %+v %v", r, err)
	}
}
