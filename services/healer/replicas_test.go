package healer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestTwoReplicasActOnce(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	nodes := []string{"n1", "n2", "n3", "n4", "n5", "n6"}
	for _, id := range nodes {
		f.add(id, 50, 100)
	}
	a := watchAudit(t, srv)
	c1 := testConfig(t, srv)
	c2 := c1
	c2.Instance = "h2"
	startHealer(t, c1)
	startHealer(t, c2)
	mon := newPublisher(t, srv)

	for round := range 3 {
		for _, id := range nodes {
			mon.open(events.KindStaleSpike, id, events.SeverityWarning)
		}
		want := (round + 1) * len(nodes)
		natstest.Eventually(t, 30*time.Second, func() bool {
			return len(a.find(events.ActionReconnect, events.PhaseSucceeded, "")) == want
		}, "round %d: every anomaly handled", round)
	}
	settled(t, srv, c1.Durable) // every decision durable: no second handling can come
	// A command sent again with its id (a redelivery on a loaded host) is
	// answered without acting again: the node acts on 3, one per anomaly.
	for _, id := range nodes {
		acted := 0
		for _, c := range f.commands(id, events.VerbReconnect) {
			if !c.Dup {
				acted++
			}
		}
		if acted != 3 {
			t.Fatalf("%s acted on %d reconnect commands for 3 anomalies: %+v", id, acted, f.commands(id, events.VerbReconnect))
		}
	}
	if src := a.bySource(); len(src) != 2 {
		t.Logf("only one replica took work this time: %v", src)
	}
	if n := len(a.find(events.ActionReconnect, events.PhaseStarted, "")); n != 3*len(nodes) {
		t.Fatalf("%d actions started for %d anomalies", n, 3*len(nodes))
	}
}

func TestReplicaKilledMidActionLosesNothing(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	// The node comes back only on the second restart request for the same
	// id: the first replica dies while verifying its restart.
	sup := startSupervisor(t, srv, f, func(string) bool { return false })
	c1 := testConfig(t, srv)
	// A restart deadline no loaded host reaches before the kill: the
	// first attempt cannot end (the node stays down until the test starts
	// it), whenever the kill comes.
	c1.Policies = filepath.Join(t.TempDir(), "long.yaml")
	long := strings.Replace(testPolicies, "deadline: 1500ms", "deadline: 60s", 1)
	if err := os.WriteFile(c1.Policies, []byte(long), 0o600); err != nil {
		t.Fatal(err)
	}
	kill1 := startHealer(t, c1)
	mon := newPublisher(t, srv)

	f.kill("n1", true)
	f.waitSilent(t, testStale, "n1")
	an := mon.open(events.KindNodeDown, "n1", events.SeverityCritical)
	natstest.Eventually(t, 15*time.Second, func() bool {
		_, requests := sup.restarts()
		return len(a.find(events.ActionRestart, events.PhaseStarted, "")) == 1 && requests == 1
	}, "the first replica sent the restart")
	kill1() // mid-action: the restart is sent, its verification not done
	if n := len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) + len(a.find(events.ActionRestart, events.PhaseFailed, "")); n != 0 {
		t.Fatalf("the attempt ended before the kill (%d outcomes): the test proves nothing", n)
	}
	f.start("n1") // the process came back in the meantime

	c2 := c1
	c2.Instance, c2.AckWait = "h2", 2*time.Second // also retunes the shared consumer
	startHealer(t, c2)
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "the second replica finished the incident")
	_, js := srv.JetStream()
	if ci, err := js.Consumer(context.Background(), events.StreamAnomalies, c1.Durable); err != nil || ci.CachedInfo().Config.AckWait != 2*time.Second {
		t.Fatalf("the shared consumer was not retuned: %v", err)
	}
	started := a.find(events.ActionRestart, events.PhaseStarted, "")
	for _, r := range started {
		if r.Attempt != 1 || r.ID != fmt.Sprintf("%s.%s.1", an.ID, events.ActionRestart) {
			t.Fatalf("the takeover did not resume attempt 1 with the same id: %+v", r)
		}
	}
	distinct, requests := sup.restarts()
	if distinct != 1 || requests < 2 {
		t.Fatalf("restart commands: %d distinct ids over %d requests; want 1 id, repeated by the takeover", distinct, requests)
	}
	if n := len(a.find(events.ActionRestart, events.PhaseRequested, "")); n != 1 {
		t.Fatalf("%d requested events, want 1", n)
	}
}

func TestCarriesOnAcrossANATSRestart(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 30, 100)
	f.add("n2", 30, 100)
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	mon.open(events.KindStaleSpike, "n1", events.SeverityWarning)
	natstest.Eventually(t, 15*time.Second, func() bool { return len(f.commands("n1", events.VerbReconnect)) == 1 }, "before the restart")

	nc := natsConn(t, srv.URL())
	srv.Restart()
	natstest.Eventually(t, 30*time.Second, func() bool {
		var st events.HealerStatus
		return request(t, nc, events.VerbStatus, nil, &st) == nil
	}, "the healer answers again")
	// Publishing may fail while JetStream recovers; the monitor would retry.
	natstest.Eventually(t, 30*time.Second, func() bool { return mon.tryOpen(events.KindStaleSpike, "n2") == nil },
		"anomaly published after the restart")
	natstest.Eventually(t, 30*time.Second, func() bool { return len(f.commands("n2", events.VerbReconnect)) == 1 },
		"an anomaly after the restart is handled")
	if n := len(a.find(events.ActionReconnect, events.PhaseStarted, "")); n < 2 {
		t.Fatalf("%d actions", n)
	}
}
