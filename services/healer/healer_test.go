package healer_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestNodeDownIsRestartedVerifiedAndRebalanced(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 90, 1000)
	}
	a := watchAudit(t, srv)
	sup := startSupervisor(t, srv, f, func(string) bool { return true })
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)

	f.kill("n1", true) // its clients reconnect to n2 and n3
	natstest.Eventually(t, 15*time.Second, func() bool { c := f.conns(); return c["n1"] == 0 && c["n2"]+c["n3"] == 270 },
		"clients on the survivors")
	f.waitSilent(t, testStale, "n1") // as the monitor would wait
	an := mon.open(events.KindNodeDown, "n1", events.SeverityCritical)

	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "restart verified")
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRebalance, events.PhaseSucceeded, "")) == 1
	}, "rebalance after the node came back")
	c := f.conns()
	if c["n1"] == 0 || c["n1"] > c["n2"] || c["n1"] > c["n3"] {
		t.Fatalf("rebalance did not refill the restarted node without overshoot: %v", c)
	}
	for _, r := range a.find(events.ActionRestart, "", "") {
		if r.AnomalyID != an.ID || r.Target != "n1" {
			t.Fatalf("restart event for the wrong anomaly or target: %+v", r)
		}
	}
	phases := []string{}
	for _, r := range a.find(events.ActionRestart, "", "") {
		phases = append(phases, r.Phase)
	}
	if strings.Join(phases, ",") != "requested,started,succeeded" {
		t.Fatalf("restart phases %v", phases)
	}
	if d, _ := sup.restarts(); d != 1 {
		t.Fatalf("%d restarts, want 1", d)
	}
	if len(a.find(events.ActionEscalate, "", "")) != 0 {
		a.dump(t)
		t.Fatal("a healed incident was escalated")
	}
}

func TestRemediationThatNeverHelpsIsCappedThenEscalated(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 10, 100)
	}
	a := watchAudit(t, srv)
	sup := startSupervisor(t, srv, f, func(string) bool { return false }) // the process dies again at once
	cfg := testConfig(t, srv)
	startHealer(t, cfg)
	mon := newPublisher(t, srv)

	f.kill("n1", true)
	f.waitSilent(t, testStale, "n1")
	mon.open(events.KindNodeDown, "n1", events.SeverityCritical)

	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionEscalate, events.PhaseSucceeded, events.SkipRetryCap)) == 1
	}, "escalated after the retry cap")
	esc := a.find(events.ActionEscalate, "", "")[0]
	if !esc.Escalate || !strings.Contains(esc.Detail, "restart n1 (attempt 3)") {
		t.Fatalf("escalation does not carry what was tried: %+v", esc)
	}
	if n := len(a.find(events.ActionRestart, events.PhaseStarted, "")); n != cfg.RetryCap {
		a.dump(t)
		t.Fatalf("%d restart attempts, want exactly %d", n, cfg.RetryCap)
	}
	if n := len(a.find(events.ActionRestart, events.PhaseFailed, "")); n != cfg.RetryCap {
		t.Fatalf("%d failed verifications, want %d", n, cfg.RetryCap)
	}
	if d, _ := sup.restarts(); d != cfg.RetryCap {
		t.Fatalf("%d distinct restart commands, want %d", d, cfg.RetryCap)
	}
	// The escalation ended the case: once its decision is acknowledged,
	// nothing comes back for it.
	settled(t, srv, cfg.Durable)
	if n := len(a.find(events.ActionRestart, events.PhaseStarted, "")); n != cfg.RetryCap {
		t.Fatalf("attempts went on after the escalation: %d", n)
	}
}

func TestFlappingNodeIsQuarantinedAndEscalated(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	startSupervisor(t, srv, f, func(string) bool { return true })
	cfg := testConfig(t, srv)
	cfg.FlapHeals = 2
	cfg.Backoff.Base = 10 * time.Millisecond
	cfg.Backoff.Max = 20 * time.Millisecond
	startHealer(t, cfg)
	mon := newPublisher(t, srv)
	nc := natsConn(t, srv.URL())

	for i := 1; i <= 2; i++ {
		f.kill("n1", true)
		f.waitSilent(t, testStale, "n1")
		mon.open(events.KindNodeDown, "n1", events.SeverityCritical)
		natstest.Eventually(t, 30*time.Second, func() bool {
			return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == i
		}, "heal %d", i)
	}
	f.kill("n1", true)
	f.waitSilent(t, testStale, "n1")
	f.start("n1") // it comes back by itself, answering, and would fail again
	mon.open(events.KindNodeDown, "n1", events.SeverityCritical)

	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionEscalate, events.PhaseSucceeded, events.SkipFlapping)) == 1
	}, "escalated as flapping")
	if n := len(a.find(events.ActionQuarantine, events.PhaseSucceeded, "")); n != 1 {
		a.dump(t)
		t.Fatalf("%d quarantines, want 1", n)
	}
	if len(f.commands("n1", events.VerbDrain)) != 1 {
		t.Fatalf("the flapping node was not drained: %+v", f.commands("n1", ""))
	}
	var st events.HealerStatus
	if err := request(t, nc, events.VerbStatus, nil, &st); err != nil || len(st.Quarantined) != 1 || st.Quarantined[0] != "n1" {
		t.Fatalf("status does not show the quarantine: %+v %v", st, err)
	}
	// The monitor learns of it from the desired-state bucket.
	_, js := srv.JetStream()
	desired, err := js.KeyValue(context.Background(), events.BucketDesired)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := desired.Get(context.Background(), events.QuarantineKey("n1"))
	if err != nil {
		t.Fatalf("quarantine not published for the monitor: %v", err)
	}
	var q events.Quarantine
	if err := json.Unmarshal(entry.Value(), &q); err != nil || q.Node != "n1" {
		t.Fatalf("quarantine value %s: %v", entry.Value(), err)
	}
	// Left out: a new anomaly on it is skipped, not healed.
	mon.open(events.KindNodeDown, "n1", events.SeverityCritical)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find("", events.PhaseSkipped, events.SkipFlapping)) == 1
	}, "a quarantined node is left out")
	if n := len(a.find(events.ActionRestart, events.PhaseStarted, "")); n != 2 {
		t.Fatalf("the quarantined node was restarted again: %d restarts", n)
	}
}

func TestFleetWideOutageTriggersNoDrains(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	sup := startSupervisor(t, srv, f, func(string) bool { return true })
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	consuming(t, srv, "wsheal-healer") // past its warm-up: the healer heard every node

	t.Run("fleet_silent", func(t *testing.T) {
		mon.open(events.KindFleetSilent, events.FleetTarget, events.SeverityCritical)
		natstest.Eventually(t, 15*time.Second, func() bool {
			return len(a.find(events.ActionEscalate, events.PhaseSucceeded, events.SkipPanic)) >= 1
		}, "fleet_silent escalated")
	})
	t.Run("most nodes down", func(t *testing.T) {
		f.kill("n1", false)
		f.kill("n2", false)
		f.waitSilent(t, testStale, "n1", "n2")
		mon.open(events.KindNodeDown, "n1", events.SeverityCritical)
		mon.open(events.KindNodeDown, "n2", events.SeverityCritical)
		mon.open(events.KindSaturation, "n3", events.SeverityError)
		natstest.Eventually(t, 15*time.Second, func() bool {
			return len(a.find("", events.PhaseSkipped, events.SkipPanic)) >= 4
		}, "every anomaly skipped for panic")
	})
	for _, id := range []string{"n1", "n2", "n3"} {
		if c := f.commands(id, ""); len(c) != 0 {
			t.Fatalf("%s got commands during a fleet-wide outage: %+v", id, c)
		}
	}
	if d, _ := sup.restarts(); d != 0 {
		t.Fatalf("%d restarts during a fleet-wide outage", d)
	}
	if n := len(a.find("", events.PhaseStarted, "")); n != 0 {
		a.dump(t)
		t.Fatalf("%d actions started during a fleet-wide outage", n)
	}
}

func TestFailedFollowUpRebalanceIsTriedAgain(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 90, 1000)
	}
	a := watchAudit(t, srv)
	startSupervisor(t, srv, f, func(string) bool { return true })
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)

	f.kill("n1", true)
	natstest.Eventually(t, 15*time.Second, func() bool { c := f.conns(); return c["n2"]+c["n3"] == 270 },
		"clients on the survivors")
	// The first follow-up rebalance fails: a survivor refuses to move clients.
	f.refuseReconnects("n2", 1)
	f.waitSilent(t, testStale, "n1") // as the monitor would wait
	mon.open(events.KindNodeDown, "n1", events.SeverityCritical)

	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRebalance, events.PhaseSucceeded, "")) == 1
	}, "the follow-up rebalance tried again and succeeded")
	if n := len(a.find(events.ActionRebalance, events.PhaseFailed, "")); n == 0 {
		a.dump(t)
		t.Fatal("no failed follow-up before the success: the test proves nothing")
	}
	if c := f.conns(); c["n1"] == 0 {
		t.Fatalf("the restarted node stayed empty: %v", c)
	}
}
