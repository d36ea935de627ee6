package monitor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// setConns sets the connections every node reports.
func setConns(nodes []*testNode, conns int) {
	for _, n := range nodes {
		n.mu.Lock()
		n.conns = conns
		n.mu.Unlock()
	}
}

// A fleet idle as a whole for the window is one fleet_underused anomaly;
// busy for the window, one fleet_saturated naming its nodes; a node more
// ends it (the fleet it was about is gone).
func TestFleetCapacityAnomalies(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	cfg := testConfig(t, srv, "m1")
	cfg.SaturatedFor, cfg.UnderusedFor = 600*time.Millisecond, 600*time.Millisecond
	m := startMonitor(t, cfg)
	nodes := fleetOf(t, srv, "c", 3, func() string { return refusedURL(t) }) // 100 of 1000 connections each
	allHealthy(t, m, nodes)
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetUnderused, events.FleetTarget, events.AnomalyOpen) == 1
	}, "fleet_underused stored")
	u := firstOf(stored(t, js), events.KindFleetUnderused, events.FleetTarget)
	if len(u.Nodes) != 3 || u.Severity != events.SeverityInfo || u.Evidence.Value != 0.1 || !strings.Contains(u.Summary, "one node fewer would do") {
		t.Fatalf("fleet_underused %+v", u)
	}

	setConns(nodes, 850) // 85% of each node's 1000: below the node's own saturation (90%)
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetSaturated, events.FleetTarget, events.AnomalyOpen) == 1 &&
			count(stored(t, js), events.KindFleetUnderused, events.FleetTarget, events.AnomalyResolved) == 1
	}, "fleet_saturated stored, fleet_underused resolved")
	a := firstOf(stored(t, js), events.KindFleetSaturated, events.FleetTarget)
	if len(a.Nodes) != 3 || a.Evidence.Value != 0.85 || a.Severity != events.SeverityWarning || a.Impact.Connections != 2550 {
		t.Fatalf("fleet_saturated %+v", a)
	}
	if n := count(stored(t, js), events.KindSaturation, "", events.AnomalyOpen); n != 0 {
		t.Fatalf("%d node saturation anomalies: no node is saturated alone", n)
	}

	newTestNode(t, srv, "c4", refusedURL(t), beat)
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindFleetSaturated, events.FleetTarget, events.AnomalyResolved) == 1
	}, "fleet_saturated resolved by a node more")
	if n := count(stored(t, js), events.KindFleetUnderused, events.FleetTarget, events.AnomalyOpen); n != 1 {
		t.Fatalf("fleet_underused opened %d times: want once", n)
	}
}
