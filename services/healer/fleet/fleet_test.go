package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"

	"github.com/wsheal/wsheal/services/healer/fleet"
)

func TestViewHealthAndForgetting(t *testing.T) {
	v := fleet.New(fleet.Config{Forget: time.Minute}, zerolog.Nop())
	t0 := time.Now()
	v.Observe(fleet.Node{ID: "a", Connections: 10}, t0)
	v.Observe(fleet.Node{ID: "b", Connections: 30, Draining: true}, t0)
	v.Observe(fleet.Node{ID: "a", Connections: 99}, t0.Add(-time.Second)) // older news
	s := v.Snapshot(t0.Add(500 * time.Millisecond))
	if len(s) != 2 || s[0].Connections != 10 || !s[0].Accepting() || s[1].Accepting() {
		t.Fatalf("snapshot %+v", s)
	}
	if c := fleet.Count(v.Snapshot(t0.Add(events.StaleAfter(0)))); c.Unhealthy != 0 || c.Nodes != 2 {
		t.Fatalf("nodes silent for three heartbeats not healthy: %+v", c)
	}
	if c := fleet.Count(v.Snapshot(t0.Add(events.StaleAfter(0) + time.Millisecond))); c.Unhealthy != 2 || c.Nodes != 2 {
		t.Fatalf("silent nodes not unhealthy: %+v", c)
	}
	if len(v.Snapshot(t0.Add(2*time.Minute))) != 0 {
		t.Fatal("silent nodes not forgotten")
	}
}

func TestBalance(t *testing.T) {
	nodes := []fleet.Node{{ID: "a", Connections: 90, Healthy: true}, {ID: "b", Connections: 30, Healthy: true}, {ID: "c", Connections: 500}}
	if r, mean := fleet.Balance(nodes); r != 1.5 || mean != 60 {
		t.Fatalf("ratio %v mean %v", r, mean)
	}
}

func TestViewFollowsTheRegistry(t *testing.T) {
	srv := natstest.Start(t)
	nc, js := srv.JetStream()
	v := fleet.New(fleet.Config{Forget: time.Minute}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx, nc, js) }()
	defer func() { cancel(); <-done }()
	kv, err := js.KeyValue(ctx, events.BucketFleet)
	if err != nil {
		t.Fatal(err)
	}
	reg := `{"node":"g1","url":"ws://x","connections":7,"capacity":10,"updated_at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
	if _, err := kv.Put(ctx, "g1", []byte(reg)); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { n, ok := v.Get("g1", time.Now()); return ok && n.Connections == 7 && n.Healthy },
		"registration seen")
	hb := &events.Heartbeat{Node: "g2", URL: "ws://y", Connections: 3, IntervalMS: 100}
	b, _ := events.New("/t", events.HeartbeatSubject("g2"), hb).Encode()
	natstest.Eventually(t, 5*time.Second, func() bool {
		_ = nc.Publish(events.HeartbeatSubject("g2"), b)
		n, ok := v.Get("g2", time.Now())
		return ok && n.Connections == 3
	}, "heartbeat seen")
	if err := kv.Delete(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { _, ok := v.Get("g1", time.Now()); return !ok },
		"a clean stop leaves the fleet")
}

// TestViewTakesHeartbeatsOfScaledNodes: with the fleet hosts of the
// compose deployment (the balancer's host and {node}), a heartbeat whose
// internal URL names its own node is believed, and one naming another
// host is not.
func TestViewTakesHeartbeatsOfScaledNodes(t *testing.T) {
	srv := natstest.Start(t)
	nc, js := srv.JetStream()
	v := fleet.New(fleet.Config{Hosts: events.Hosts{"127.0.0.1", events.NodeHost}, Forget: time.Minute}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx, nc, js) }()
	defer func() { cancel(); <-done }()
	beat := func(node, internal string, conns int) {
		hb := &events.Heartbeat{Node: node, URL: "ws://127.0.0.1:8080/node/" + node + "/ws", InternalURL: internal, Connections: conns, IntervalMS: 100}
		b, _ := events.New("/t", events.HeartbeatSubject(node), hb).Encode()
		_ = nc.Publish(events.HeartbeatSubject(node), b)
	}
	natstest.Eventually(t, 5*time.Second, func() bool {
		beat("0d1e1e40b268", "http://0d1e1e40b268:8080", 4)
		n, ok := v.Get("0d1e1e40b268", time.Now())
		return ok && n.Connections == 4
	}, "the heartbeat of a node probed at its own name")
	for range 5 {
		beat("9b62ee626acf", "http://0d1e1e40b268:8080", 5)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	beat("0d1e1e40b268", "http://0d1e1e40b268:8080", 6) // after the forged ones, in order
	natstest.Eventually(t, 5*time.Second, func() bool { n, _ := v.Get("0d1e1e40b268", time.Now()); return n.Connections == 6 }, "the later heartbeat")
	if _, ok := v.Get("9b62ee626acf", time.Now()); ok {
		t.Fatal("a heartbeat pointing probes at another node was believed")
	}
}

func TestRunsComparesLikeWithLike(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	fromRegistry := fleet.Node{ID: "n1", StartedAt: at}.Identity()
	thawed := fleet.Node{ID: "n1", StartedAt: at, Boot: "B1"}
	if !thawed.Runs(fromRegistry) || !thawed.Runs("B1") {
		t.Fatal("the same process, heard first from its registry entry, taken for another")
	}
	restarted := fleet.Node{ID: "n1", StartedAt: at.Add(time.Second), Boot: "B2"}
	if restarted.Runs(fromRegistry) || restarted.Runs("B1") || restarted.Runs("") {
		t.Fatal("a new process taken for the old one")
	}
}

// TestViewRunsOnTheHealersClock: heartbeats are stamped with the view's
// clock, so a node that beats is healthy at that clock's time however far
// it is from the wall's.
func TestViewRunsOnTheHealersClock(t *testing.T) {
	srv := natstest.Start(t)
	nc, js := srv.JetStream()
	at := time.Now().Add(2 * time.Hour)
	v := fleet.New(fleet.Config{Forget: time.Minute, Now: func() time.Time { return at }}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx, nc, js) }()
	defer func() { cancel(); <-done }()
	hb := &events.Heartbeat{Node: "g1", URL: "ws://x", Connections: 2, IntervalMS: 100}
	b, _ := events.New("/t", events.HeartbeatSubject("g1"), hb).Encode()
	natstest.Eventually(t, 5*time.Second, func() bool {
		_ = nc.Publish(events.HeartbeatSubject("g1"), b)
		_, ok := v.Get("g1", at)
		return ok
	}, "heartbeat seen")
	n, _ := v.Get("g1", at)
	if !n.Healthy || !n.LastSeen.Equal(at) {
		t.Fatalf("a beating node on the healer's clock: %+v", n)
	}
	if n, _ := v.Get("g1", at.Add(events.StaleAfter(100*time.Millisecond)+time.Millisecond)); n.Healthy {
		t.Fatalf("healthy past the staleness rule on the healer's clock: %+v", n)
	}
}
