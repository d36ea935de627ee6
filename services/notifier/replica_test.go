package notifier

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/notifier/incident"
	"github.com/wsheal/wsheal/services/notifier/outbox"
	"github.com/wsheal/wsheal/services/notifier/sink"
	"github.com/wsheal/wsheal/services/notifier/sink/pagerduty"
)

// A notifier stopped in the middle of an incident, while PagerDuty
// refuses its resolve, loses nothing: the next instance sends the resolve
// once, and nothing is sent twice.
func TestRestartMidIncidentLosesAndDuplicatesNothing(t *testing.T) {
	e := newEnv(t)
	e.cfg.Escalation = "pagerduty"
	var release atomic.Bool
	e.pd.setFail(func(ev pagerduty.Event) int {
		if ev.EventAction == "resolve" && !release.Load() {
			return http.StatusInternalServerError
		}
		return 0
	})
	stopA := e.start("a")
	now := time.Now().UTC()
	a := nodeAnomaly(events.KindNodeDown, "gw-3", now.Add(-time.Second), now, 0.05)
	e.publishAnomaly(a)
	e.publishRemediation(&events.Remediation{ID: "rem-3", AnomalyID: a.ID, Action: events.ActionRestart,
		Target: "gw-3", Phase: events.PhaseFailed, Attempt: 2})
	natstest.Eventually(t, 10*time.Second, func() bool { _, n := e.pd.count("trigger"); return n == 1 }, "trigger sent")
	e.resolveAnomaly(a, now.Add(3*time.Second))
	natstest.Eventually(t, 10*time.Second, func() bool { n, _ := e.pd.count("resolve"); return n >= 2 }, "resolve attempted and refused")
	stopA()

	release.Store(true)
	e.start("b")
	natstest.Eventually(t, 15*time.Second, func() bool {
		_, n := e.pd.count("resolve")
		return n == 1 && e.outboxEmpty()
	}, "resolve delivered by the second instance")
	inc := e.waitIncident(5*time.Second, func(i events.Incident) bool { return i.State == events.IncidentResolved }, "resolved")
	var rv events.Review
	natstest.Eventually(t, 10*time.Second, func() bool {
		return e.control(events.VerbReview, events.IncidentRequest{Incident: inc.ID}, &rv) == nil
	}, "review written")
	if rv.AutoHealed || !rv.Paged { // a page called a person
		t.Fatalf("review auto %v paged %v", rv.AutoHealed, rv.Paged)
	}
	// A crash between a send and its ack redelivers a message already
	// sent: its id is in the sent record, so it is dropped, not resent.
	store, err := incident.NewStore(t.Context(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	again := sink.Message{ID: "redelivered-1", Sink: sink.PagerDuty, Action: sink.ActionTrigger, Incident: inc}
	if err := store.Mark(t.Context(), again); err != nil {
		t.Fatal(err)
	}
	if err := outbox.New(e.js).Enqueue(t.Context(), again); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, e.outboxEmpty, "redelivered message consumed")
	for _, action := range []string{"trigger", "resolve"} {
		if _, n := e.pd.count(action); n != 1 {
			t.Fatalf("%s accepted %d times, want once", action, n)
		}
	}
	for _, ev := range e.pd.events() {
		if ev.DedupKey != inc.Key {
			t.Fatalf("dedup key %q, want %q", ev.DedupKey, inc.Key)
		}
	}
}

// Two replicas reading the same anomalies (four nodes down at once, half
// the fleet) open one incident and page once.
func TestTwoReplicasOneIncident(t *testing.T) {
	e := newEnv(t)
	e.cfg.Escalation = "pagerduty"
	e.start("a")
	e.start("b")
	now := time.Now().UTC()
	var wg sync.WaitGroup
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("gw-%d", i)
			a := nodeAnomaly(events.KindNodeDown, node, now.Add(-time.Second), now.Add(time.Duration(i)*time.Millisecond), 0.125)
			if _, err := e.mon.Emit(t.Context(), events.AnomalySubject(a.Kind, a.Target), a); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	inc := e.waitIncident(10*time.Second, func(i events.Incident) bool { return len(i.Anomalies) == 4 }, "one incident with four anomalies")
	if n := len(e.incidents()); n != 1 {
		t.Fatalf("%d incidents, want 1", n)
	}
	if inc.Severity != "SEV1" || len(inc.Nodes) != 4 {
		t.Fatalf("incident %+v", inc)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		_, n := e.pd.count("trigger")
		return n >= 1 && e.outboxEmpty()
	}, "paged")
	if _, n := e.pd.count("trigger"); n != 1 {
		t.Fatalf("paged %d times, want once", n)
	}
}

// A NATS restart in the middle of an incident: the notifier reconnects,
// its consumers resume, and the page still goes out once.
func TestNATSRestartMidIncident(t *testing.T) {
	e := newEnv(t)
	e.cfg.Escalation = "pagerduty"
	e.start("a")
	now := time.Now().UTC()
	a := nodeAnomaly(events.KindNodeDown, "gw-7", now.Add(-time.Second), now, 0.05)
	e.publishAnomaly(a)
	e.waitIncident(10*time.Second, func(i events.Incident) bool { return len(i.Anomalies) == 1 }, "incident opened")
	e.nats.Restart()
	natstest.Eventually(t, 10*time.Second, func() bool {
		_, err := e.heal.Emit(t.Context(), events.RemediationSubject(events.ActionRestart, "gw-7"), &events.Remediation{
			ID: "rem-7", AnomalyID: a.ID, Action: events.ActionRestart, Target: "gw-7", Phase: events.PhaseFailed, Attempt: 1})
		return err == nil
	}, "remediation published after the restart")
	natstest.Eventually(t, 20*time.Second, func() bool {
		_, n := e.pd.count("trigger")
		return n == 1 && e.outboxEmpty()
	}, "paged after the NATS restart")
	if _, n := e.pd.count("trigger"); n != 1 {
		t.Fatalf("paged %d times", n)
	}
}
