package monitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// A node that keeps crashing and coming back is flapping.
func TestFlappingNode(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	cfg := testConfig(t, srv, "m1")
	cfg.Changes, cfg.LeaveChanges, cfg.Window = 4, 1, time.Minute
	m := startMonitor(t, cfg)
	nodes := fleetOf(t, srv, "f", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	for cycle := range 2 {
		nodes[0].Kill()
		natstest.Eventually(t, 10*time.Second, func() bool { return m.state("f1") == events.NodeDown }, "f1 down, cycle %d", cycle)
		nodes[0].Start()
		natstest.Eventually(t, 10*time.Second, func() bool { return m.state("f1") == events.NodeHealthy }, "f1 back, cycle %d", cycle)
	}
	natstest.Eventually(t, 5*time.Second, func() bool {
		return count(stored(t, js), events.KindFlapping, "f1", events.AnomalyOpen) == 1
	}, "flapping stored for f1")
	if a := firstOf(stored(t, js), events.KindFlapping, "f1"); a.Evidence.Value < 4 || a.Severity != events.SeverityError {
		t.Fatalf("flapping %+v", a)
	}
	if n := count(stored(t, js), events.KindFlapping, "f2", ""); n != 0 {
		t.Fatalf("steady f2 flagged as flapping")
	}
}

// One node holding most of the connections is an imbalance on the fleet
// naming the hot node; it clears once the load is spread.
func TestImbalance(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "i", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	nodes[1].mu.Lock()
	nodes[1].conns = 900
	nodes[1].mu.Unlock()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindImbalance, events.FleetTarget, events.AnomalyOpen) == 1
	}, "imbalance stored")
	a := firstOf(stored(t, js), events.KindImbalance, events.FleetTarget)
	if len(a.Nodes) != 1 || a.Nodes[0] != "i2" || a.Impact.Connections != 900 || a.Evidence.Value < 1.5 {
		t.Fatalf("imbalance %+v", a)
	}
	nodes[1].mu.Lock()
	nodes[1].conns = 100
	nodes[1].mu.Unlock()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindImbalance, events.FleetTarget, events.AnomalyResolved) == 1
	}, "imbalance resolved")
}

// The monitor publishes its service heartbeat.
func TestServiceHeartbeat(t *testing.T) {
	srv := natstest.Start(t)
	nc := srv.Conn()
	sub, err := nc.SubscribeSync(events.ServiceHeartbeatSubject(events.ServiceMonitor, "m7"))
	if err != nil {
		t.Fatal(err)
	}
	startMonitor(t, testConfig(t, srv, "m7"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		t.Fatalf("no service heartbeat: %v", err)
	}
	ev, err := events.Decode(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	hb, ok := events.As[*events.ServiceHeartbeat](ev)
	if !ok || hb.Instance != "m7" || hb.State != "active" {
		t.Fatalf("heartbeat %+v", ev.Payload)
	}
}

// The whole fleet accepting upgrades at a storm's rate is one
// reconnect_storm on the fleet; it clears when the rate falls.
func TestReconnectStorm(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "r", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	for _, n := range nodes {
		n.SetHealth(func(h *events.Health) { h.AcceptRate, h.Opened = 300, 1500 })
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindReconnectStorm, events.FleetTarget, events.AnomalyOpen) == 1
	}, "reconnect_storm stored")
	if a := firstOf(stored(t, js), events.KindReconnectStorm, events.FleetTarget); a.Evidence.Value < 500 || a.Impact.Nodes != 3 {
		t.Fatalf("storm %+v", a)
	}
	for _, n := range nodes {
		n.SetHealth(nil)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindReconnectStorm, events.FleetTarget, events.AnomalyResolved) == 1
	}, "reconnect_storm resolved")
}
