package monitor_test

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/natstest"
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
	a := firstOf(stored(t, js), events.KindFleetDegraded, events.FleetTarget)
	if len(a.Nodes) != 3 || a.Evidence.Value != 1 || a.Evidence.Threshold != 0.5 {
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
