package healer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer"
	"github.com/wsheal/wsheal/services/monitor"
)

// realPolicies suit in-process gateways watched by the real monitor.
const realPolicies = `policies:
  - name: node-down
    kinds: [node_down, node_hung]
    actions:
      - action: restart
        deadline: 10s
    then:
      - action: rebalance
        wave_pause: 400ms
        wave_fraction: 0.5
        deadline: 15s
  - name: overload
    kinds: [saturation]
    actions:
      - action: resize
        accept_rate: 5
        restore_after: 200ms
        deadline: 20s
  - name: imbalance
    kinds: [imbalance]
    actions:
      - action: rebalance
        wave_pause: 400ms
        wave_fraction: 0.5
        deadline: 15s
`

func realHealer(t *testing.T, srv *natstest.Server) healer.Config {
	cfg := testConfig(t, srv)
	path := filepath.Join(t.TempDir(), "real.yaml")
	if err := os.WriteFile(path, []byte(realPolicies), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Policies = path
	return cfg
}

func ratio(c map[string]int) float64 {
	most, total := 0, 0
	for _, n := range c {
		most, total = max(most, n), total+n
	}
	if total == 0 {
		return 1
	}
	return float64(most) * float64(len(c)) / float64(total)
}

func TestRealGatewayKilledClientsRehomeAndAnomalyResolves(t *testing.T) {
	srv := natstest.Start(t)
	f := newRealFleet(t, srv)
	nodes := []string{"g1", "g2", "g3"}
	var urls []string
	for _, n := range nodes {
		urls = append(urls, f.start(n).URL())
	}
	a := watchAudit(t, srv)
	startRealSupervisor(t, srv, f)
	startRealMonitor(t, srv, nil)
	startHealer(t, realHealer(t, srv))
	dialClients(t, 30, urls...)
	natstest.Eventually(t, 30*time.Second, func() bool { c := f.conns(nodes...); return c["g1"]+c["g2"]+c["g3"] == 30 && c["g1"] > 0 },
		"30 clients spread, some on g1")

	f.kill("g1")
	natstest.Eventually(t, 15*time.Second, func() bool { c := f.conns("g2", "g3"); return c["g2"]+c["g3"] == 30 },
		"the killed node's clients on the survivors")
	natstest.Eventually(t, 30*time.Second, func() bool {
		an := lastAnomaly(t, srv, events.KindNodeDown, "g1")
		return an != nil && an.State == events.AnomalyResolved
	}, "node_down of g1 opened by the monitor and resolved")
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "the restart verified")
	down := lastAnomaly(t, srv, events.KindNodeDown, "g1")
	// The restart's own follow-up (an imbalance policy may have balanced
	// the start-up spread before).
	natstest.Eventually(t, 30*time.Second, func() bool {
		for _, r := range a.find(events.ActionRebalance, events.PhaseSucceeded, "") {
			if r.AnomalyID == down.ID {
				return true
			}
		}
		return false
	}, "clients rebalanced onto the restarted node")
	if r := a.find(events.ActionRestart, events.PhaseSucceeded, "")[0]; r.AnomalyID != down.ID || r.Target != "g1" {
		t.Fatalf("the restart answered %s on %s, not the monitor's %s", r.AnomalyID, r.Target, down.ID)
	}
	c := f.allConns(nodes...)
	if c["g1"]+c["g2"]+c["g3"] != 30 || ratio(c) > 1.2 {
		a.dump(t)
		t.Fatalf("after healing: %v (max/mean %.2f)", c, ratio(c))
	}
	// (An imbalance that resolved by the rebalance is recorded as a skipped
	// escalation: not one.)
	if len(a.find(events.ActionEscalate, events.PhaseSucceeded, "")) != 0 {
		a.dump(t)
		t.Fatal("escalated a healed node")
	}
}

func TestRealGatewayOverloadAdmissionLoweredThenRestored(t *testing.T) {
	srv := natstest.Start(t)
	f := newRealFleet(t, srv)
	g1 := f.start("g1")
	f.start("g2")
	a := watchAudit(t, srv)
	startRealMonitor(t, srv, func(c *monitor.Config) {
		c.MaxBacklog, c.MaxHeapMB = 0, 0
		// 19 clients on g1 and none on g2 is also an imbalance, whose
		// rebalance would end the saturation this test watches (whichever
		// detector fires first on a loaded host): not here.
		c.Ratio, c.LeaveRatio = 1000, 999
	})
	startHealer(t, realHealer(t, srv))
	before, err := f.status("g1")
	if err != nil {
		t.Fatal(err)
	}
	// Capacity 20 through the gateway's own resize, then 19 clients: 95%.
	limit := 20
	if err := gatewayResize(f, "g1", limit); err != nil {
		t.Fatal(err)
	}
	clients := dialClients(t, 19, g1.URL())
	natstest.Eventually(t, 30*time.Second, func() bool {
		st, err := f.status("g1")
		return err == nil && st.Settings.AcceptRate == 5
	}, "admission lowered on the saturated node")
	for _, c := range clients[:10] { // the load goes away
		_ = c.Close()
	}
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionResize, events.PhaseSucceeded, "")) == 2
	}, "resize verified by the resolved anomaly, then restored")
	st, err := f.status("g1")
	if err != nil || st.Settings.AcceptRate != before.Settings.AcceptRate {
		t.Fatalf("accept rate %v, want it restored to %v (%v)", st.Settings.AcceptRate, before.Settings.AcceptRate, err)
	}
}

func TestRealGatewayRebalanceWithinBoundWithoutOscillation(t *testing.T) {
	cases := []struct {
		name  string
		nodes []string
	}{
		{"two nodes", []string{"g1", "g2"}},
		{"three nodes", []string{"g1", "g2", "g3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := natstest.Start(t)
			f := newRealFleet(t, srv)
			g1 := f.start("g1")
			for _, n := range tc.nodes[1:] {
				f.start(n) // nodes back, empty ...
			}
			dialClients(t, 36, g1.URL()) // ... while every client is on g1
			a := watchAudit(t, srv)
			startRealMonitor(t, srv, func(*monitor.Config) {}) // the default imbalance rule is relative: 36 clients suffice
			// A receiver is never asked to send clients (ping-pong). Its count
			// may still dip: a client it lost for any reason falls back to
			// g1, the only URL the clients know; that is no move of the healer.
			asked := make(chan string, 64)
			for _, n := range tc.nodes[1:] {
				sub, err := f.nc.Subscribe(events.GatewayControlSubject(n, events.VerbReconnect), func(*nats.Msg) { asked <- n })
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = sub.Unsubscribe() })
			}
			if err := f.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			startHealer(t, realHealer(t, srv))
			natstest.Eventually(t, 30*time.Second, func() bool {
				return len(a.find(events.ActionRebalance, events.PhaseSucceeded, "")) == 1
			}, "rebalanced")
			natstest.Eventually(t, 30*time.Second, func() bool {
				an := lastAnomaly(t, srv, events.KindImbalance, events.FleetTarget)
				return an != nil && an.State == events.AnomalyResolved
			}, "imbalance resolved")
			final := f.allConns(tc.nodes...)
			if ratio(final) > 1.2 {
				a.dump(t)
				t.Fatalf("max/mean %.2f: %v", ratio(final), final)
			}
			select {
			case n := <-asked:
				a.dump(t)
				t.Fatalf("%s, a receiver, was asked to send clients back (ping-pong)", n)
			default:
			}
			if n := len(a.find(events.ActionRebalance, events.PhaseStarted, "")); n != 1 {
				t.Fatalf("%d rebalance runs, want 1", n)
			}
		})
	}
}

// gatewayResize sets a node's max connections through its own verb.
func gatewayResize(f *realFleet, node string, maxConns int) error {
	return events.Request(context.Background(), f.nc, events.GatewayControlSubject(node, events.VerbResize),
		&events.ResizeCommand{ID: "test-capacity", MaxConns: &maxConns}, nil)
}
