package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestForgedDesiredStateRejected: a max_conns 0 written into the
// desired-state bucket (as a stolen credential could) is rejected when the
// node restarts; the node keeps the last good setting of the key's history.
func TestForgedDesiredStateRejected(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-forged")
	_, stop := runNode(t, cfg)
	five := 5
	var set events.Settings
	if err := request(t, ns, "gw-forged", events.VerbResize, events.ResizeCommand{ID: "good", MaxConns: &five}, &set); err != nil {
		t.Fatal(err)
	}
	zero := 0
	err := request(t, ns, "gw-forged", events.VerbResize, events.ResizeCommand{ID: "zero", MaxConns: &zero}, &set)
	if err == nil || !strings.Contains(err.Error(), "max_conns") {
		t.Fatalf("resize to max_conns 0: err = %v, want refused", err)
	}
	stop()
	_, js := ns.JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, events.BucketDesired)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(events.Settings{MaxConns: 0, AcceptRate: 1, AcceptBurst: 1, PingIntervalMS: 1000, PongDeadlineMS: 1000})
	if _, err := kv.Put(ctx, "gw-forged", forged); err != nil {
		t.Fatal(err)
	}
	s := startNode(t, cfg)
	if got := s.pool.Capacity(); got != 5 {
		t.Fatalf("capacity after a forged max_conns 0: %d, want the last good 5", got)
	}
	dial(t, s.URL()) // and it admits clients
}

// TestForgedRegistrationIgnored: with WSHEAL_GATEWAY_FLEET_HOSTS set, a
// registration pointing at https://evil.example is not believed:
// /v1/connect?redirect=1 never sends a client there.
func TestForgedRegistrationIgnored(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-home")
	cfg.FleetHosts = events.Hosts{"127.0.0.1"}
	s := startNode(t, cfg)
	_, js := ns.JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, events.BucketFleet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	put := func(r events.Registration) {
		b, _ := json.Marshal(r)
		if _, err := kv.Put(ctx, r.Node, b); err != nil {
			t.Fatal(err)
		}
	}
	// Emptier than gw-home: the least loaded, were it believed.
	put(events.Registration{Node: "gw-evil", URL: "https://evil.example/login", Capacity: 1_000_000,
		UpdatedAt: now, StartedAt: now, HeartbeatMS: 60_000})
	put(events.Registration{Node: "gw-spoof", URL: "ws://127.0.0.1:1/ws", Capacity: 1_000_000,
		UpdatedAt: now, StartedAt: now, HeartbeatMS: 60_000, InternalURL: "javascript:alert(1)"})
	put(events.Registration{Node: "gw-other", URL: "ws://127.0.0.1:2/ws", Capacity: 10,
		UpdatedAt: now, StartedAt: now, HeartbeatMS: 60_000})
	natstest.Eventually(t, 5*time.Second, func() bool { _, ok := s.registry.Get("gw-other"); return ok },
		"the valid registration written last never arrived")
	for _, bad := range []string{"gw-evil", "gw-spoof"} {
		if _, ok := s.registry.Get(bad); ok {
			t.Fatalf("registration %s believed", bad)
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := strings.Replace(strings.TrimSuffix(s.URL(), "/ws"), "ws://", "http://", 1)
	for range 20 {
		resp, err := noFollow.Get(base + "/v1/connect?redirect=1")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if loc := resp.Header.Get("Location"); strings.Contains(loc, "evil") || strings.Contains(loc, "javascript") {
			t.Fatalf("/v1/connect redirected to %s", loc)
		}
	}
}
