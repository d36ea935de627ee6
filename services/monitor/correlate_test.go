package monitor_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// Every node failing at once is the fleet's trouble: one fleet_degraded
// anomaly and no node anomaly; it clears once the fleet is well again.
func TestSharedShiftIsOneFleetAnomaly(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	cfg := testConfig(t, srv, "m1")
	cfg.CorrelationConfig.ClearAfter = 2
	m := startMonitor(t, cfg)
	nodes := fleetOf(t, srv, "s", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	for _, n := range nodes {
		n.SetHealth(func(h *events.Health) { h.Errors = 100 })
	}
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetDegraded, events.FleetTarget, events.AnomalyOpen) == 1
	}, "fleet_degraded stored")
	// It opens as soon as most of the fleet is degraded: the nodes'
	// health is sampled one after the other, so it may name 2 of 3.
	a := firstOf(stored(t, js), events.KindFleetDegraded, events.FleetTarget)
	share := float64(len(a.Nodes)) / 3
	if len(a.Nodes) < 2 || math.Abs(a.Evidence.Value-share) > 1e-9 || a.Evidence.Threshold != 0.5 {
		t.Fatalf("fleet_degraded %+v", a)
	}
	for _, n := range nodes {
		n.SetHealth(nil)
	}
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetDegraded, events.FleetTarget, events.AnomalyResolved) == 1
	}, "fleet_degraded resolved")
	for _, a := range stored(t, js) {
		if a.Target != events.FleetTarget {
			t.Fatalf("a node anomaly for a shift the whole fleet shared: %+v", a)
		}
	}
}

// One node failing among healthy peers is that node's: a node anomaly,
// no fleet anomaly.
func TestNodeThatStandsOutGetsTheNodeAnomaly(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "o", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	nodes[1].SetHealth(func(h *events.Health) { h.Errors = 100 })
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindErrorRate, "o2", events.AnomalyOpen) == 1
	}, "error_rate on o2")
	if n := count(stored(t, js), events.KindFleetDegraded, events.FleetTarget, ""); n != 0 {
		t.Fatalf("one sick node raised fleet_degraded")
	}
}

// Data-plane trouble raises its anomalies: a full store on the fleet, and
// a node whose subscribes fail on the node.
func TestDataPlaneAnomalies(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "d", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	for _, n := range nodes {
		n.SetHealth(func(h *events.Health) {
			h.DataPlane.StreamBytes, h.DataPlane.StreamMaxBytes = 99<<20, 100<<20
		})
	}
	nodes[2].SetHealth(func(h *events.Health) {
		h.DataPlane.StreamBytes, h.DataPlane.StreamMaxBytes = 99<<20, 100<<20
		h.DataPlane.Subscribes, h.DataPlane.SubscribeErrors = 40, 30
	})
	natstest.Eventually(t, 15*time.Second, func() bool {
		list := stored(t, js)
		return count(list, events.KindStoreFull, events.FleetTarget, events.AnomalyOpen) == 1 &&
			count(list, events.KindDataPlaneErrors, "d3", events.AnomalyOpen) == 1
	}, "store_full on the fleet and data_plane_errors on d3")
	a := firstOf(stored(t, js), events.KindStoreFull, events.FleetTarget)
	if a.Evidence.Metric != "stream_bytes_over_limit" || a.Severity != events.SeverityCritical || len(a.Nodes) == 0 {
		t.Fatalf("store_full %+v", a)
	}
}

// A monitor restarted during a fleet-wide slowdown keeps holding: the
// held verdicts come back from its bucket at once, fleet_degraded stays
// the one open anomaly (neither resolved nor opened again), and no node
// anomaly opens while the fleet shares the trouble. When two nodes are
// well again and the third still fails, fleet_degraded ends and the third
// stands out: its verdict opens.
func TestRestartDuringFleetSlowdownKeepsHolding(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	cfg := testConfig(t, srv, "m1")
	// Late beats of a loaded test machine are no node_down here: this test
	// is about error_rate (3 s without a beat, not 600 ms).
	cfg.SuspectMisses, cfg.DownMisses = 5, 15
	m := startMonitor(t, cfg)
	nodes := fleetOf(t, srv, "h", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)
	for _, n := range nodes {
		n.SetHealth(func(h *events.Health) { h.Errors = 100 })
	}
	kv, err := js.KeyValue(context.Background(), events.BucketMonitor)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 15*time.Second, func() bool {
		e, err := kv.Get(context.Background(), "held.verdicts")
		var saved []map[string]any
		return len(m.Anomalies("", "").Correlation.Held) == 3 && err == nil && json.Unmarshal(e.Value(), &saved) == nil && len(saved) == 3
	}, "three node verdicts held, and saved")
	m.Stop(t)

	m2 := startMonitor(t, cfg)
	if held := m2.Anomalies("", "").Correlation.Held; len(held) != 3 {
		t.Fatalf("restarted monitor holds %+v, want the 3 verdicts", held)
	}
	restarted := time.Now()
	natstest.Eventually(t, 15*time.Second, func() bool {
		return time.Since(restarted) > 10*cfg.FleetEvery && len(m2.Anomalies(events.KindFleetDegraded, "").Anomalies) == 1
	}, "the restarted monitor lives through ten fleet rounds of the slowdown with fleet_degraded open")
	if n := count(stored(t, js), events.KindFleetDegraded, events.FleetTarget, ""); n != 1 {
		t.Fatalf("fleet_degraded stored %d times across the restart, want one open event", n)
	}
	nodes[0].SetHealth(nil)
	nodes[2].SetHealth(nil)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetDegraded, events.FleetTarget, events.AnomalyResolved) == 1 &&
			count(stored(t, js), events.KindErrorRate, "h2", events.AnomalyOpen) == 1
	}, "fleet_degraded resolved and h2 stands out")
	for _, a := range stored(t, js) {
		if a.Target == "h1" || a.Target == "h3" {
			t.Fatalf("a node anomaly on a node that only shared the trouble: %+v", a)
		}
	}
}

// After a shared RTT rise the clients may stay away a while (they
// reconnect with backoff): snapshots without pongs are no bad samples, so
// fleet_degraded clears instead of staying open on the last sample of the
// stall.
func TestFleetDegradedClearsWhileTheClientsAreAway(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	cfg := testConfig(t, srv, "m1")
	cfg.CorrelationConfig.ClearAfter = 2
	// Learned RTT baselines (10 ms), as a monitor that ran a while saved them.
	startMonitor(t, cfg).Stop(t)
	kv, err := js.KeyValue(context.Background(), events.BucketMonitor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "baseline.rtt",
		[]byte(`{"w1":{"mean":10,"samples":20},"w2":{"mean":10,"samples":20},"w3":{"mean":10,"samples":20}}`)); err != nil {
		t.Fatal(err)
	}
	m := startMonitor(t, cfg)
	nodes := fleetOf(t, srv, "w", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	for _, n := range nodes {
		n.SetHealth(func(h *events.Health) { h.RTT = events.RTT{P50: 400, P90: 900, P99: 1500, Samples: 100} })
	}
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetDegraded, events.FleetTarget, events.AnomalyOpen) == 1
	}, "fleet_degraded stored")
	for _, n := range nodes {
		n.SetHealth(func(h *events.Health) { h.Connections, h.RTT = 0, events.RTT{} })
	}
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetDegraded, events.FleetTarget, events.AnomalyResolved) == 1
	}, "fleet_degraded resolved while no node has pongs")
}
