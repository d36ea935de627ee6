package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func anomaly(kind, target string, window time.Time) events.Anomaly {
	return events.Anomaly{ID: events.AnomalyID(kind, target, window), Kind: kind, State: events.AnomalyOpen, Target: target,
		Severity: events.SeverityError, ImpactStart: window, DetectedAt: window.Add(time.Second)}
}

func newLedger(t *testing.T, srv *natstest.Server, instance string) (*Ledger, jetstream.KeyValue) {
	t.Helper()
	nc, js := srv.JetStream()
	kv, err := js.KeyValue(context.Background(), events.BucketMonitor)
	if err != nil {
		t.Fatal(err)
	}
	return New(kv, events.NewEmitter(nc, js, events.Source(events.ServiceMonitor, instance)), zerolog.Nop()), kv
}

func streamMsgs(t *testing.T, srv *natstest.Server) uint64 {
	t.Helper()
	_, js := srv.JetStream()
	st, err := js.Stream(context.Background(), events.StreamAnomalies)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestOpenResolve(t *testing.T) {
	srv := natstest.Start(t)
	l, kv := newLedger(t, srv, "a")
	ctx := context.Background()
	w := time.Unix(1700000000, 0).UTC()
	a := anomaly(events.KindNodeDown, "n1", w)
	if got, fresh := l.Open(a); !fresh || got.ID != a.ID {
		t.Fatalf("open: %+v %v", got, fresh)
	}
	l.Flush(ctx)
	if _, fresh := l.Open(anomaly(events.KindNodeDown, "n1", w.Add(time.Minute))); fresh {
		t.Fatal("a second open of the same kind and target must not be fresh")
	}
	e, err := kv.Get(ctx, Key(events.KindNodeDown, "n1"))
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil || !rec.Published || rec.Anomaly.ID != a.ID {
		t.Fatalf("stored %+v %v", rec, err)
	}
	res, ok := l.Resolve(events.KindNodeDown, "n1", w.Add(time.Hour))
	if !ok || res.State != events.AnomalyResolved || res.ID != a.ID {
		t.Fatalf("resolve %+v %v", res, ok)
	}
	l.Flush(ctx)
	if _, err := kv.Get(ctx, Key(events.KindNodeDown, "n1")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("key left after resolve: %v", err)
	}
	if n := streamMsgs(t, srv); n != 2 {
		t.Fatalf("%d messages stored, want open and resolved", n)
	}
}

func TestSecondReplicaAdopts(t *testing.T) {
	srv := natstest.Start(t)
	l1, _ := newLedger(t, srv, "a")
	l2, _ := newLedger(t, srv, "b")
	ctx := context.Background()
	w := time.Unix(1700000000, 0).UTC()
	first, _ := l1.Open(anomaly(events.KindImbalance, events.FleetTarget, w))
	l1.Flush(ctx)
	// The other replica saw the start a minute later: it adopts the id.
	l2.Open(anomaly(events.KindImbalance, events.FleetTarget, w.Add(time.Minute)))
	l2.Flush(ctx)
	if got, _ := l2.Get(events.KindImbalance, events.FleetTarget); got.ID != first.ID {
		t.Fatalf("second replica holds %s, want adopted %s", got.ID, first.ID)
	}
	l1.Resolve(events.KindImbalance, events.FleetTarget, w.Add(time.Hour))
	l2.Resolve(events.KindImbalance, events.FleetTarget, w.Add(time.Hour))
	l1.Flush(ctx)
	l2.Flush(ctx)
	if n := streamMsgs(t, srv); n != 2 {
		t.Fatalf("%d messages stored, want one open and one resolved", n)
	}
}

func TestOfflineIsPendingThenFlushed(t *testing.T) {
	srv := natstest.Start(t)
	l, _ := newLedger(t, srv, "a")
	online := false
	l.Online = func() bool { return online }
	ctx := context.Background()
	w := time.Unix(1700000000, 0).UTC()
	l.Open(anomaly(events.KindFleetSilent, events.FleetTarget, w))
	l.Open(anomaly(events.KindNodeDown, "n2", w))
	l.Resolve(events.KindNodeDown, "n2", w.Add(time.Second))
	if l.Pending() != 3 || streamMsgs(t, srv) != 0 {
		t.Fatalf("pending %d, stored %d while offline", l.Pending(), streamMsgs(t, srv))
	}
	if len(l.List("", "")) != 1 {
		t.Fatalf("open list %+v", l.List("", ""))
	}
	online = true
	l.Flush(ctx)
	if l.Pending() != 0 || streamMsgs(t, srv) != 3 {
		t.Fatalf("after flush: pending %d, stored %d (want fleet open, n2 open, n2 resolved)", l.Pending(), streamMsgs(t, srv))
	}
}

func TestLoadAndWatch(t *testing.T) {
	srv := natstest.Start(t)
	l1, _ := newLedger(t, srv, "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := time.Unix(1700000000, 0).UTC()
	l1.Open(anomaly(events.KindSaturation, "n1", w))
	l1.Flush(ctx)

	l2, _ := newLedger(t, srv, "b")
	loaded, err := l2.Load(ctx)
	if err != nil || len(loaded) != 1 || loaded[0].Target != "n1" {
		t.Fatalf("loaded %+v %v", loaded, err)
	}
	go func() { _ = l2.Watch(ctx) }()
	l1.Open(anomaly(events.KindErrorRate, "n3", w))
	l1.Flush(ctx)
	natstest.Eventually(t, 5*time.Second, func() bool { return len(l2.List("", "")) == 2 }, "replica b mirrors the new anomaly")
	l1.Resolve(events.KindSaturation, "n1", w.Add(time.Minute))
	l1.Flush(ctx)
	natstest.Eventually(t, 5*time.Second, func() bool { return len(l2.List("", "n1")) == 0 }, "replica b mirrors the resolution")
}

func FuzzDecodeRecord(f *testing.F) {
	b, _ := json.Marshal(Record{Anomaly: anomaly(events.KindNodeDown, "n1", time.Unix(1700000000, 0)), Published: true})
	f.Add(b)
	f.Add([]byte(`{"anomaly":{}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decode(b)
		if err == nil && rec.Anomaly.Validate() != nil {
			t.Fatalf("decoded an invalid anomaly: %+v", rec)
		}
		if err != nil && !errors.Is(err, ErrDecode) {
			t.Fatalf("error %v does not wrap ErrDecode", err)
		}
	})
}

func TestLastResolved(t *testing.T) {
	srv := natstest.Start(t)
	l, _ := newLedger(t, srv, "a")
	ctx := context.Background()
	a := anomaly(events.KindStaleSpike, "n1", time.Unix(1700000000, 0))
	l.Open(a)
	if l.LastResolved(a.Kind, a.Target) != "" {
		t.Fatal("nothing resolved yet")
	}
	l.Resolve(a.Kind, a.Target, time.Now())
	l.Flush(ctx)
	if got := l.LastResolved(a.Kind, a.Target); got != a.ID {
		t.Fatalf("last resolved %q, want %q", got, a.ID)
	}
}
