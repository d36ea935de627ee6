package healer_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer"
)

// TestRestartIsVerifiedOnlyByANewProcess: the restart does nothing, but
// the old process thaws and beats again (same boot id). The verify must
// not take those heartbeats for the restart; once a restart brings a new
// process, it succeeds and names it.
func TestRestartIsVerifiedOnlyByANewProcess(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 20, 100)
	}
	a := watchAudit(t, srv)
	var mu sync.Mutex
	real := false
	startSupervisor(t, srv, f, func(node string) bool {
		mu.Lock()
		defer mu.Unlock()
		if !real {
			f.thaw(node) // the old process comes back; nothing was restarted
		}
		return real
	})
	cfg := testConfig(t, srv)
	cfg.RetryCap = 10
	startHealer(t, cfg)
	mon := newPublisher(t, srv)

	f.kill("n1", true)
	natstest.Eventually(t, 10*time.Second, func() bool { return !f.alive("n1") }, "n1 silent")
	f.waitSilent(t, testStale, "n1") // as the monitor would wait
	mon.open(events.KindNodeHung, "n1", events.SeverityError)
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseFailed, "")) >= 1
	}, "the restart that brought no new process failed its verify")
	failed := a.find(events.ActionRestart, events.PhaseFailed, "")[0]
	if !strings.Contains(failed.Detail, "no heartbeat from a new process") {
		t.Fatalf("failed for another reason: %s", failed.Detail)
	}
	if n := len(a.find(events.ActionRestart, events.PhaseSucceeded, "")); n != 0 {
		a.dump(t)
		t.Fatalf("%d restarts verified by the old process", n)
	}
	mu.Lock()
	real = true
	mu.Unlock()
	f.kill("n1", false)
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "a restart into a new process verified")
	ok := a.find(events.ActionRestart, events.PhaseSucceeded, "")[0]
	if !strings.Contains(ok.Detail, "now runs process") {
		t.Fatalf("the verify does not name the new process: %s", ok.Detail)
	}
}

// clock is a fake clock for the healer's gates.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestMaxAgeGateOnAnInjectedClock: an anomaly older than MAX_AGE on the
// healer's clock is escalated and dropped, with no wait for real time.
func TestMaxAgeGateOnAnInjectedClock(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 20, 100)
	}
	a := watchAudit(t, srv)
	cfg := testConfig(t, srv)
	cfg.MaxAge = time.Hour
	c := &clock{now: time.Now()}
	s, err := healer.New(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	s.SetClock(c.Now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	mon := newPublisher(t, srv)

	c.Advance(2 * time.Hour) // the anomaly below is two hours old on the healer's clock
	mon.open(events.KindStaleSpike, "n1", events.SeverityWarning)
	natstest.Eventually(t, 30*time.Second, func() bool {
		for _, r := range a.find(events.ActionEscalate, "", "") {
			if strings.Contains(r.Detail, "open for more than") {
				return true
			}
		}
		return false
	}, "escalated as too old")
	if n := len(f.commands("n1", events.VerbReconnect)); n != 0 {
		t.Fatalf("%d reconnects for an anomaly past its age", n)
	}
}
