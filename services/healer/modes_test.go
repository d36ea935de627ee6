package healer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestDryRunActsNeverButSaysWhatItWouldDo(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	sup := startSupervisor(t, srv, f, func(string) bool { return true })
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	nc := natsConn(t, srv.URL())
	on := true
	var sw events.HealerSwitches
	if err := request(t, nc, events.VerbHealerDryRun, events.HealerDryRunCommand{ID: "d1", On: &on, By: "test"}, &sw); err != nil || !sw.DryRun {
		t.Fatalf("dry-run on: %+v %v", sw, err)
	}
	f.kill("n1", true)
	f.waitSilent(t, testStale, "n1")
	mon.open(events.KindNodeDown, "n1", events.SeverityCritical)
	mon.open(events.KindSaturation, "n2", events.SeverityError)
	mon.open(events.KindFlapping, "n3", events.SeverityError)

	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find("", events.PhaseSkipped, events.SkipDryRun)) == 4 // restart, rebalance, resize, quarantine
	}, "every step of every policy announced as skipped(dry-run)")
	for _, r := range a.find("", events.PhaseSkipped, events.SkipDryRun) {
		if !r.DryRun || !strings.HasPrefix(r.Detail, "would ") {
			t.Fatalf("a dry-run event does not say what it would do: %+v", r)
		}
	}
	settled(t, srv, "wsheal-healer") // every decision durable: nothing more comes
	if n := len(a.find("", events.PhaseStarted, "")); n != 0 {
		t.Fatalf("%d actions started in dry-run", n)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		if c := f.commands(id, ""); len(c) != 0 {
			t.Fatalf("%s got commands in dry-run: %+v", id, c)
		}
	}
	if d, _ := sup.restarts(); d != 0 {
		t.Fatal("restarted in dry-run")
	}
	var st events.HealerStatus
	if err := request(t, nc, events.VerbStatus, nil, &st); err != nil || st.State != "dry-run" {
		t.Fatalf("status: %+v %v", st, err)
	}
}

func TestPauseHoldsAndResumeActs(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	nc := natsConn(t, srv.URL())
	if err := request(t, nc, events.VerbHealerPause, events.HealerPauseCommand{ID: "p1", Reason: "maintenance", By: "test"}, nil); err != nil {
		t.Fatal(err)
	}
	mon.open(events.KindStaleSpike, "n1", events.SeverityWarning)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find("", events.PhaseSkipped, events.SkipPaused)) == 1
	}, "skipped(paused)")
	redelivered(t, srv, "wsheal-healer", 2) // evaluated again twice while paused
	if len(f.commands("n1", "")) != 0 || len(a.find("", events.PhaseSkipped, events.SkipPaused)) != 1 {
		t.Fatal("acted while paused, or repeated the skip")
	}
	if err := request(t, nc, events.VerbHealerResume, events.HealerResumeCommand{ID: "r1", By: "test"}, nil); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 15*time.Second, func() bool { return len(f.commands("n1", events.VerbReconnect)) == 1 },
		"the held anomaly is handled after resume")
}

func TestHandsOffNodeIsLeftAlone(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2"} {
		f.add(id, 30, 100)
	}
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	nc := natsConn(t, srv.URL())
	on, off := true, false
	var sw events.HealerSwitches
	if err := request(t, nc, events.VerbHealerHandsOff, events.HandsOffCommand{ID: "h1", Node: "n1", On: &on, Reason: "debugging"}, &sw); err != nil || len(sw.HandsOff) != 1 {
		t.Fatalf("hands-off: %+v %v", sw, err)
	}
	mon.open(events.KindStaleSpike, "n1", events.SeverityWarning)
	mon.open(events.KindStaleSpike, "n2", events.SeverityWarning)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find("", events.PhaseSkipped, events.SkipHandsOff)) == 1 && len(f.commands("n2", events.VerbReconnect)) == 1
	}, "n1 skipped, n2 handled")
	if len(f.commands("n1", "")) != 0 {
		t.Fatal("a hands-off node got a command")
	}
	var cleared events.HealerSwitches
	if err := request(t, nc, events.VerbHealerHandsOff, events.HandsOffCommand{ID: "h2", Node: "n1", On: &off}, &cleared); err != nil || len(cleared.HandsOff) != 0 {
		t.Fatalf("clear: %+v %v", cleared, err)
	}
	mon.open(events.KindStaleSpike, "n1", events.SeverityWarning)
	natstest.Eventually(t, 15*time.Second, func() bool { return len(f.commands("n1", events.VerbReconnect)) == 1 },
		"handled once the lock is cleared")
}

func TestOverloadedNodeAdmissionLoweredThenRestored(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 95, 100)
	f.add("n2", 40, 100)
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	mon := newPublisher(t, srv)
	consuming(t, srv, "wsheal-healer")

	an := mon.open(events.KindSaturation, "n1", events.SeverityError)
	natstest.Eventually(t, 15*time.Second, func() bool { mc, ar := f.settings("n1"); return mc == 50 && ar == 5 },
		"admission lowered (max_conns 100*0.5, accept_rate 5)")
	mon.resolve(an)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.find(events.ActionResize, events.PhaseSucceeded, "")) == 2
	}, "resize verified and then restored")
	if mc, ar := f.settings("n1"); mc != 100 || ar != 100 {
		t.Fatalf("admission not restored: max_conns %d accept_rate %v", mc, ar)
	}
	cmds := f.commands("n1", events.VerbResize)
	if len(cmds) != 2 || cmds[0].ID == cmds[1].ID {
		t.Fatalf("want a lowering and a restore with distinct ids: %+v", cmds)
	}
}

func TestRebalanceReachesTheBoundWithoutOscillation(t *testing.T) {
	cases := []struct {
		name  string
		conns map[string]int
	}{
		{"two nodes", map[string]int{"n1": 180, "n2": 20}},
		{"three nodes", map[string]int{"n1": 200, "n2": 190, "n3": 10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := natstest.Start(t)
			f := newPeers(t, srv)
			for _, id := range []string{"n1", "n2", "n3"} {
				if n, ok := c.conns[id]; ok {
					f.add(id, n, 1000)
				}
			}
			a := watchAudit(t, srv)
			startHealer(t, testConfig(t, srv))
			mon := newPublisher(t, srv)
			consuming(t, srv, "wsheal-healer")
			mon.open(events.KindImbalance, events.FleetTarget, events.SeverityWarning)
			natstest.Eventually(t, 15*time.Second, func() bool {
				return len(a.find(events.ActionRebalance, events.PhaseSucceeded, "")) == 1
			}, "rebalanced")
			got := f.conns()
			most, total := 0, 0
			for _, n := range got {
				most, total = max(most, n), total+n
			}
			if ratio := float64(most) * float64(len(got)) / float64(total); ratio > 1.2 {
				t.Fatalf("max/mean %.2f above 1.2: %v", ratio, got)
			}
			// No oscillation: no pair of nodes exchanged clients both ways,
			// and a second imbalance report on a balanced fleet moves nothing.
			moved := map[[2]string]int{}
			for id := range got {
				for _, cmd := range f.commands(id, events.VerbReconnect) {
					moved[[2]string{id, cmd.To}] += cmd.Count
				}
			}
			for pair := range moved {
				if moved[[2]string{pair[1], pair[0]}] > 0 {
					t.Fatalf("clients moved both ways between %s and %s: %v", pair[0], pair[1], moved)
				}
			}
			before := countCmds(f, got)
			mon.open(events.KindImbalance, events.FleetTarget, events.SeverityWarning)
			natstest.Eventually(t, 15*time.Second, func() bool {
				return len(a.find(events.ActionRebalance, events.PhaseSucceeded, "")) == 2
			}, "second rebalance verified at once")
			if countCmds(f, got) != before {
				t.Fatalf("a balanced fleet got reconnect commands again")
			}
			if f.conns()["n1"] != got["n1"] {
				t.Fatalf("a balanced fleet was moved again: %v then %v", got, f.conns())
			}
		})
	}
}

func countCmds(f *peers, nodes map[string]int) int {
	n := 0
	for id := range nodes {
		n += len(f.commands(id, events.VerbReconnect))
	}
	return n
}
