package healer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/executor/webhook"
)

func TestGlobalBudgetSkipsThenActs(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	cfg := testConfig(t, srv)
	cfg.Budget.Rate, cfg.Budget.Burst = 2, 1 // one action now, then one each 500 ms
	startHealer(t, cfg)
	mon := newPublisher(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		mon.open(events.KindStaleSpike, id, events.SeverityWarning)
	}
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionReconnect, events.PhaseSucceeded, "")) == 3
	}, "every anomaly handled within the budget")
	if n := len(a.find("", events.PhaseSkipped, events.SkipBudget)); n < 1 {
		a.dump(t)
		t.Fatal("no skipped(budget) although three actions came at once with a burst of one")
	}
}

func TestEmptyTargetSetMeansNoAction(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 30, 100)
	f.add("n2", 30, 100)
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	mon.open(events.KindStaleSpike, events.FleetTarget, events.SeverityWarning) // names no node
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find("", events.PhaseSkipped, events.SkipNoTarget)) == 1
	}, "skipped(no-target)")
	mon.open(events.KindStaleSpike, events.FleetTarget, events.SeverityWarning, "n2") // names one
	natstest.Eventually(t, 15*time.Second, func() bool { return len(f.commands("n2", events.VerbReconnect)) == 1 },
		"the named node handled")
	if len(f.commands("n1", "")) != 0 {
		t.Fatal("a node no anomaly named got a command")
	}
}

func TestNeverDrainTheLastHealthyNode(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 30, 100)
	f.add("n2", 30, 100)
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	f.kill("n2", true)
	f.waitSilent(t, testStale, "n2") // n1 is the last healthy node
	mon.open(events.KindFlapping, "n1", events.SeverityError)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find(events.ActionEscalate, events.PhaseSucceeded, events.SkipFlapping)) == 1
	}, "escalated")
	if c := f.commands("n1", events.VerbDrain); len(c) != 0 {
		t.Fatalf("the last healthy node was drained: %+v", c)
	}
	q := a.find(events.ActionQuarantine, events.PhaseSucceeded, "")
	if len(q) != 1 || !strings.Contains(q[0].Detail, "not drained") {
		t.Fatalf("the quarantine does not say it left the node serving: %+v", q)
	}
}

func TestLongActionIsKeptAliveAcrossReplicas(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	// The node comes back 2.5 s after its restart: more than twice AckWait.
	startSupervisor(t, srv, f, func(node string) bool {
		time.AfterFunc(2500*time.Millisecond, func() { f.start(node) })
		return false
	})
	c1 := testConfig(t, srv)
	c1.Policies = writePolicies(t, "policies:\n  - name: down\n    kinds: [node_down]\n    actions:\n      - action: restart\n        deadline: 20s\n")
	c2 := c1
	c2.Instance = "h2"
	startHealer(t, c1)
	startHealer(t, c2)
	mon := newPublisher(t, srv)
	f.kill("n1", true)
	f.waitSilent(t, testStale, "n1")
	mon.open(events.KindNodeDown, "n1", events.SeverityCritical)
	natstest.Eventually(t, 60*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "restart verified")
	if n := len(a.find(events.ActionRestart, events.PhaseStarted, "")); n != 1 {
		a.dump(t)
		t.Fatalf("%d starts: the long action was redelivered to the other replica", n)
	}
}

func TestServiceHeartbeatCarriesTheState(t *testing.T) {
	srv := natstest.Start(t)
	startHealer(t, testConfig(t, srv))
	nc := natsConn(t, srv.URL())
	var mu sync.Mutex
	states := map[string]bool{}
	_, err := nc.Subscribe(events.ServiceHeartbeatSubject(events.ServiceHealer, "h1"), func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		if hb, ok := events.As[*events.ServiceHeartbeat](ev); ok {
			mu.Lock()
			states[hb.State] = true
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := func(s string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return states[s] }
	}
	natstest.Eventually(t, 15*time.Second, seen("active"), "active heartbeat")
	if err := request(t, nc, events.VerbHealerPause, events.HealerPauseCommand{ID: "p1"}, nil); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 15*time.Second, seen("paused"), "paused heartbeat")
	on := true
	if err := request(t, nc, events.VerbHealerResume, events.HealerResumeCommand{ID: "r1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := request(t, nc, events.VerbHealerDryRun, events.HealerDryRunCommand{ID: "d1", On: &on}, nil); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 15*time.Second, seen("dry-run"), "dry-run heartbeat")
}

func TestRunbookWebhookGetsTheAnomalyAndAnIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	var calls []webhook.Call
	var keys []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c webhook.Call
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		calls, keys = append(calls, c), append(keys, r.Header.Get(webhook.IdempotencyHeader))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 30, 100)
	a := watchAudit(t, srv)
	cfg := testConfig(t, srv)
	cfg.Policies = writePolicies(t, "policies:\n  - name: errors\n    kinds: [error_rate]\n    actions:\n      - action: webhook\n        url: "+hook.URL+"/runbook\n")
	startHealer(t, cfg)
	an := newPublisher(t, srv).open(events.KindErrorRate, "n1", events.SeverityError)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find(events.ActionWebhook, events.PhaseSucceeded, "")) == 1
	}, "runbook called")
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0].Anomaly == nil || calls[0].Anomaly.ID != an.ID || keys[0] != calls[0].ID || keys[0] == "" {
		t.Fatalf("calls %+v keys %v", calls, keys)
	}
}

func writePolicies(t *testing.T, body string) string {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBadAnomaliesAreDroppedAndServingGoesOn(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 30, 100)
	f.add("n2", 30, 100)
	startHealer(t, testConfig(t, srv))
	_, js := srv.JetStream()
	for i, body := range []string{
		`not json`,
		`{"specversion":"1.0","id":"x1","source":"s","type":"io.wsheal.monitor.v1.anomaly","time":"2024-01-01T00:00:00Z","data":{"id":"a","kind":"stale_spike","state":"open","target":"n1","severity":"nope","detected_at":"2024-01-01T00:00:00Z"}}`,
		`{"specversion":"1.0","id":"x2","source":"s","type":"io.wsheal.gateway.v1.heartbeat","time":"2024-01-01T00:00:00Z","data":{"node":"n1","url":"ws://x","interval_ms":1}}`,
	} {
		if _, err := js.Publish(context.Background(), events.AnomalySubject(events.KindStaleSpike, "n1"), []byte(body)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	newPublisher(t, srv).open(events.KindStaleSpike, "n2", events.SeverityWarning)
	natstest.Eventually(t, 15*time.Second, func() bool { return len(f.commands("n2", events.VerbReconnect)) == 1 },
		"a good anomaly after bad ones is handled")
	if len(f.commands("n1", "")) != 0 {
		t.Fatal("a malformed anomaly caused an action")
	}
	_, js2 := srv.JetStream()
	c, err := js2.Consumer(context.Background(), events.StreamAnomalies, "wsheal-healer")
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 15*time.Second, func() bool {
		info, err := c.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	}, "nothing left pending: bad messages are terminated, not redelivered forever")
}

// TestNoQuarantineWhileTheFleetIsDegraded: a flapping node that the open
// fleet_degraded names is not quarantined (it waits, skipped
// fleet-degraded); a node that stands out is; once the fleet anomaly
// resolves the waiting quarantine goes ahead.
func TestNoQuarantineWhileTheFleetIsDegraded(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		f.add(n, 30, 100)
	}
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	deg := mon.open(events.KindFleetDegraded, events.FleetTarget, events.SeverityWarning, "n1", "n2", "n3")
	mon.open(events.KindFlapping, "n1", events.SeverityError)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find("", events.PhaseSkipped, events.SkipFleetDegraded)) == 1
	}, "the quarantine of n1 waits for the fleet")
	mon.open(events.KindFlapping, "n4", events.SeverityError)
	natstest.Eventually(t, 15*time.Second, func() bool {
		q := a.find(events.ActionQuarantine, events.PhaseSucceeded, "")
		return len(q) == 1 && q[0].Target == "n4"
	}, "n4 stands out from its peers: quarantined")
	if c := f.commands("n1", events.VerbDrain); len(c) != 0 {
		t.Fatalf("n1 drained while the fleet was degraded: %+v", c)
	}
	mon.resolve(deg)
	natstest.Eventually(t, 15*time.Second, func() bool {
		for _, q := range a.find(events.ActionQuarantine, events.PhaseSucceeded, "") {
			if q.Target == "n1" {
				return true
			}
		}
		return false
	}, "n1 quarantined once the fleet is healthy again")
}
