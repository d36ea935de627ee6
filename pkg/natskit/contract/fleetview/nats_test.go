package fleetview_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/fleetview"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func fleetBucket(t *testing.T) (*natstest.Server, jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	kv, err := js.KeyValue(context.Background(), events.BucketFleet)
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, kv
}

func store(t *testing.T, kv jetstream.KeyValue, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), key, b); err != nil {
		t.Fatal(err)
	}
}

func reg(node, url string, at time.Time) events.Registration {
	return events.Registration{Node: node, URL: url, Connections: 3, Capacity: 10, UpdatedAt: at, HeartbeatMS: 1000}
}

func TestViewFollowsTheRegistryAndHeartbeats(t *testing.T) {
	srv, js, kv := fleetBucket(t)
	now := time.Now()
	store(t, kv, "g1", reg("g1", "ws://g1/ws", now))
	v := fleetview.New(fleetview.Config{}, zerolog.New(zerolog.NewTestWriter(t)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx, js) }()
	defer func() { cancel(); <-done }()
	select {
	case <-v.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("the registry's entries never all in")
	}
	if n, ok := v.Get("g1"); !ok || n.URL != "ws://g1/ws" {
		t.Fatalf("after Synced, the entry written before: %+v %v", n, ok)
	}
	nc := srv.Conn()
	sub, err := v.FollowHeartbeats(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	b, _ := events.New("/t", events.HeartbeatSubject("g2"), &events.Heartbeat{Node: "g2", URL: "ws://g2/ws", Connections: 8, IntervalMS: 100}).Encode()
	natstest.Eventually(t, 5*time.Second, func() bool {
		_ = nc.Publish(events.HeartbeatSubject("g2"), b)
		n, ok := v.Get("g2")
		return ok && n.Connections == 8
	}, "a heartbeat")
	if err := kv.Delete(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { _, ok := v.Get("g1"); return !ok }, "a clean stop leaves the view")
}

func TestListReadsTheRegistryOnce(t *testing.T) {
	_, _, kv := fleetBucket(t)
	now := time.Now()
	store(t, kv, "g2", reg("g2", "ws://g2/ws", now))
	store(t, kv, "g1", reg("g1", "ws://g1/ws", now))
	store(t, kv, "g3", reg("g1", "ws://g1/ws", now)) // another node's entry under g3's key
	store(t, kv, "gone", reg("gone", "ws://gone/ws", now))
	if err := kv.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	got, err := fleetview.List(context.Background(), kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Node.ID != "g1" || got[1].Node.ID != "g2" || got[2].Node.ID != "g3" {
		t.Fatalf("listed %+v", got)
	}
	if got[0].Err != nil || got[0].Node.URL != "ws://g1/ws" || !got[0].Node.Fresh(now) {
		t.Fatalf("g1: %+v", got[0])
	}
	if got[2].Err == nil || got[2].Node.URL != "" {
		t.Fatalf("g3's forged entry believed: %+v", got[2])
	}
}
