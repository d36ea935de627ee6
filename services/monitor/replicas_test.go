package monitor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// Two replicas see the same crash: the anomaly and its resolution are
// each stored once, and both replicas list it while it is open.
func TestTwoReplicasStoreOnce(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m1 := startMonitor(t, testConfig(t, srv, "r1"))
	m2 := startMonitor(t, testConfig(t, srv, "r2"))
	nodes := fleetOf(t, srv, "d", 3, func() string { return refusedURL(t) })
	allHealthy(t, m1, nodes)
	allHealthy(t, m2, nodes)

	nodes[2].Kill()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return m1.state("d3") == events.NodeDown && m2.state("d3") == events.NodeDown
	}, "both replicas see d3 down")
	natstest.Eventually(t, 5*time.Second, func() bool {
		a1, a2 := m1.Anomalies(events.KindNodeDown, "d3").Anomalies, m2.Anomalies(events.KindNodeDown, "d3").Anomalies
		return len(a1) == 1 && len(a2) == 1 && a1[0].ID == a2[0].ID && m1.Pending() == 0 && m2.Pending() == 0
	}, "both replicas hold the same open anomaly, written")
	if n := count(stored(t, js), events.KindNodeDown, "d3", events.AnomalyOpen); n != 1 {
		t.Fatalf("node_down stored %d times, want once", n)
	}

	nodes[2].Start()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return m1.state("d3") == events.NodeHealthy && m2.state("d3") == events.NodeHealthy
	}, "both replicas see d3 recovered")
	natstest.Eventually(t, 5*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "d3", events.AnomalyResolved) == 1
	}, "resolution stored")
	if list := stored(t, js); count(list, events.KindNodeDown, "d3", "") != 2 {
		t.Fatalf("want one open and one resolved event, got %+v", list)
	}
}

// A restarted monitor restores the open anomaly: it does not fire it
// again and resolves it when the node comes back.
func TestRestartKeepsOpenAnomalies(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	cfg := testConfig(t, srv, "m1")
	m := startMonitor(t, cfg)
	nodes := fleetOf(t, srv, "p", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)
	nodes[0].Kill()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "p1", events.AnomalyOpen) == 1
	}, "node_down stored")
	kv, err := js.KeyValue(context.Background(), events.BucketMonitor)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		e, err := kv.Get(context.Background(), "baseline.rtt")
		return err == nil && strings.Contains(string(e.Value()), `"p2":{"mean":10`)
	}, "RTT baselines saved")
	m.Stop(t)

	m2 := startMonitor(t, cfg)
	if list := m2.Anomalies("", "").Anomalies; len(list) != 1 || list[0].Target != "p1" {
		t.Fatalf("restored anomalies %+v", list)
	}
	// The barrier: the restarted monitor sees the other nodes and has had
	// time to judge p1 on its own.
	natstest.Eventually(t, 10*time.Second, func() bool {
		st := m2.FleetStatus("")
		return m2.state("p2") == events.NodeHealthy && m2.state("p1") == events.NodeDown && time.Since(st.Nodes[0].Since) > 10*beat
	}, "restarted monitor holds p1 down")
	if n := count(stored(t, js), events.KindNodeDown, "p1", ""); n != 1 {
		t.Fatalf("node_down stored %d times after restart, want once", n)
	}
	nodes[0].Start()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "p1", events.AnomalyResolved) == 1
	}, "resolved by the restarted monitor")
}

// When the monitor loses NATS it raises one fleet_silent (published once
// it is back) and no node_down, and resolves it when beats return.
func TestMonitorLosesNATS(t *testing.T) {
	srv := natstest.Start(t)
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "n", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	srv.Restart()
	_, js := srv.JetStream()
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetSilent, events.FleetTarget, events.AnomalyResolved) == 1
	}, "fleet_silent opened and resolved")
	list := stored(t, js)
	if len(list) != 2 || list[0].Evidence.Metric != "monitor_nats_connected" || count(list, events.KindNodeDown, "", "") != 0 {
		t.Fatalf("want one fleet_silent for the lost connection, got %+v", list)
	}
	allHealthy(t, m, nodes)
}
