package monitor_test

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// A node whose events stop without a stopping announcement and whose
// port refuses connections is down; when it beats again the anomaly is
// resolved with the same id.
func TestKilledNodeIsDownThenResolved(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "k", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	killed := time.Now()
	nodes[1].Kill()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "k2", events.AnomalyOpen) == 1
	}, "node_down stored for k2")
	a := firstOf(stored(t, js), events.KindNodeDown, "k2")
	if a.Target != "k2" || a.Severity == "" || a.Impact.Connections != 100 || a.Impact.FleetNodes != 3 {
		t.Fatalf("anomaly %+v", a)
	}
	if a.ImpactStart.After(killed.Add(2*beat)) || a.DetectedAt.Before(a.ImpactStart) {
		t.Fatalf("impact start %v (killed %v) detected %v: the impact starts at the first missed beat", a.ImpactStart, killed, a.DetectedAt)
	}
	if m.state("k2") != events.NodeDown || len(m.Anomalies(events.KindNodeDown, "k2").Anomalies) != 1 {
		t.Fatalf("k2 state %q", m.state("k2"))
	}

	nodes[1].Start()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "k2", events.AnomalyResolved) == 1
	}, "node_down resolved")
	var resolved events.Anomaly
	for _, x := range stored(t, js) {
		if x.Target == "k2" && x.State == events.AnomalyResolved {
			resolved = x
		}
	}
	if resolved.ID != a.ID || resolved.ResolvedAt.IsZero() {
		t.Fatalf("resolved %+v, want the id %s", resolved, a.ID)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return m.state("k2") == events.NodeHealthy }, "k2 healthy again")
	if len(m.Anomalies("", "k2").Anomalies) != 0 {
		t.Fatalf("open anomalies left: %+v", m.Anomalies("", "k2"))
	}
}

// A node that announced its stop raises nothing; a crash after it (the
// barrier) is still seen.
func TestCleanStopRaisesNothing(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "c", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	nodes[0].Stop()
	natstest.Eventually(t, 5*time.Second, func() bool { return m.state("c1") == events.NodeStopped }, "c1 stopped")
	nodes[2].Kill()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "c3", events.AnomalyOpen) == 1
	}, "node_down for the crashed c3")
	list := stored(t, js)
	if count(list, events.KindNodeDown, "c1", "")+count(list, events.KindNodeHung, "c1", "") != 0 || m.state("c1") != events.NodeStopped {
		t.Fatalf("a clean stop raised an anomaly: %+v (c1 %s)", list, m.state("c1"))
	}
}

// A node whose heartbeats stop while its listener still completes TCP
// handshakes is hung, not down.
func TestWedgedNodeIsHung(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "h", 3, func() string { return wedgedURL(t) })
	allHealthy(t, m, nodes)

	nodes[0].Kill()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeHung, "h1", events.AnomalyOpen) == 1
	}, "node_hung for h1")
	if n := count(stored(t, js), events.KindNodeDown, "", ""); n != 0 {
		t.Fatalf("%d node_down for a hung node", n)
	}
	nodes[0].Start()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeHung, "h1", events.AnomalyResolved) == 1
	}, "node_hung resolved")
}

// All heartbeats stopping at once is one fleet anomaly, not one per
// node; when they come back it is resolved, and no node was called down.
func TestFleetSilentOnce(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "s", 5, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	for _, n := range nodes {
		n.Kill()
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetSilent, events.FleetTarget, events.AnomalyOpen) == 1
	}, "fleet_silent stored")
	// Hold the silence well past the down threshold as the monitor sees it.
	natstest.Eventually(t, 10*time.Second, func() bool {
		st := m.FleetStatus("")
		for _, n := range st.Nodes {
			if st.At.Sub(n.LastHeartbeat) < 10*beat {
				return false
			}
		}
		return st.Panic
	}, "silence held past 10 beats")
	list := stored(t, js)
	// It fires as soon as most (not all) of the fleet is silent.
	if len(list) != 1 || len(list[0].Nodes) < 3 || list[0].Severity != events.SeverityCritical || list[0].Impact.Connections < 300 {
		t.Fatalf("want one fleet_silent over 5 nodes, got %+v", list)
	}
	for _, n := range nodes {
		n.Start()
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetSilent, events.FleetTarget, events.AnomalyResolved) == 1
	}, "fleet_silent resolved")
	allHealthy(t, m, nodes)
	if list := stored(t, js); len(list) != 2 {
		t.Fatalf("want fleet_silent open and resolved only, got %+v", list)
	}
}
