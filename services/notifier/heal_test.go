package notifier

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// An auto-healed node crash: anomaly open -> restart succeeded -> anomaly
// resolved, as real events over NATS. The incident resolves by itself, no
// one is paged, Slack gets the summary, and the review's MTTD and MTTR
// are the event timestamps' differences.
func TestAutoHealedNodeCrash(t *testing.T) {
	e := newEnv(t)
	e.start("a")
	impact := time.Now().Add(-2 * time.Second).UTC().Truncate(time.Millisecond)
	detected := impact.Add(1500 * time.Millisecond)
	a := nodeAnomaly(events.KindNodeDown, "gw-1", impact, detected, 0.1)
	e.publishAnomaly(a)
	inc := e.waitIncident(10*time.Second, func(i events.Incident) bool { return len(i.Anomalies) == 1 }, "incident opened")
	if inc.State != events.IncidentTriggered || inc.Paged || inc.Severity != "SEV3" || !strings.HasPrefix(inc.Key, "wsheal/availability/") {
		t.Fatalf("opened: %+v", inc)
	}
	for _, phase := range []string{events.PhaseRequested, events.PhaseStarted, events.PhaseSucceeded} {
		e.publishRemediation(&events.Remediation{ID: "rem-1", AnomalyID: a.ID, Kind: a.Kind, Action: events.ActionRestart,
			Target: "gw-1", Phase: phase, Attempt: 1, Deadline: time.Now().Add(time.Minute)})
	}
	e.waitIncident(10*time.Second, func(i events.Incident) bool { return i.State == events.IncidentMitigated }, "mitigated")
	resolvedAt := time.Now().UTC().Truncate(time.Millisecond)
	e.resolveAnomaly(a, resolvedAt)
	inc = e.waitIncident(10*time.Second, func(i events.Incident) bool { return i.State == events.IncidentResolved }, "resolved")
	if !inc.ResolvedAt.Equal(resolvedAt) || inc.Paged {
		t.Fatalf("resolved: %+v", inc)
	}
	var rv events.Review
	natstest.Eventually(t, 10*time.Second, func() bool {
		return e.control(events.VerbReview, events.IncidentRequest{Incident: inc.ID}, &rv) == nil
	}, "review written")
	if rv.MTTDMS != 1500 || rv.MTTRMS != resolvedAt.Sub(impact).Milliseconds() || !rv.AutoHealed || rv.Paged {
		t.Fatalf("review: mttd %d mttr %d auto %v paged %v", rv.MTTDMS, rv.MTTRMS, rv.AutoHealed, rv.Paged)
	}
	if len(rv.Actions) != 1 || rv.Actions[0].Result != events.PhaseSucceeded || !strings.Contains(rv.Markdown, "MTTR") ||
		!strings.Contains(rv.Markdown, "heartbeat_age_ms 3000 against threshold 2500") {
		t.Fatalf("review actions %+v", rv.Actions)
	}
	t.Logf("review:\n%s", rv.Markdown)
	natstest.Eventually(t, 10*time.Second, func() bool {
		_, n, _ := e.slack.got()
		return n == 1 && e.outboxEmpty()
	}, "summary sent to slack")
	if req, _ := e.pd.count("trigger"); req != 0 || len(e.pd.events()) != 0 {
		t.Fatalf("paged PagerDuty %d times", req)
	}
	if _, n, _ := e.slack.got(); n != 1 {
		t.Fatalf("slack got %d messages, want the one summary", n)
	}
}

// A failed remediation pages level 1 at once; unacknowledged, the page
// escalates to level 2 after the level's timeout; acknowledged, it does
// not, and PagerDuty hears trigger, acknowledge and resolve under one
// dedup key.
func TestFailedRemediationPagesAndEscalates(t *testing.T) {
	for _, ack := range []bool{false, true} {
		name := map[bool]string{false: "unacknowledged escalates", true: "acknowledged does not"}[ack]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.start("a")
			now := time.Now().UTC()
			a := nodeAnomaly(events.KindNodeDown, "gw-2", now.Add(-time.Second), now, 0.05)
			e.publishAnomaly(a)
			e.publishRemediation(&events.Remediation{ID: "rem-9", AnomalyID: a.ID, Action: events.ActionRestart,
				Target: "gw-2", Phase: events.PhaseFailed, Attempt: 1, Detail: "container did not come back"})
			natstest.Eventually(t, 10*time.Second, func() bool { _, n := e.pd.count("trigger"); return n == 1 }, "paged")
			pagedAt := time.Now()
			inc := e.waitIncident(5*time.Second, func(i events.Incident) bool { return i.Paged }, "paged incident")
			if ev := e.pd.events()[0]; ev.DedupKey != inc.Key || ev.Payload == nil || ev.Payload.Severity != "warning" {
				t.Fatalf("trigger %+v for %s", ev, inc.Key)
			}
			if !ack {
				inc = e.waitIncident(10*time.Second, func(i events.Incident) bool { return i.Level == 2 }, "level 2")
				natstest.Eventually(t, 10*time.Second, func() bool {
					b, _, _ := e.hook.got()
					return len(b) == 1 && b[0].Message.Action == sink.ActionEscalate && b[0].Message.Level == 2
				}, "webhook got the level 2 escalation, signed")
				return
			}
			var acked events.Incident
			if err := e.control(events.VerbAck, events.IncidentCommand{ID: "ack-1", Incident: inc.ID, By: "ana"}, &acked); err != nil {
				t.Fatal(err)
			}
			if acked.State != events.IncidentAcknowledged || acked.AckedAt.IsZero() {
				t.Fatalf("ack reply %+v", acked)
			}
			natstest.Eventually(t, 10*time.Second, func() bool { _, n := e.pd.count("acknowledge"); return n == 1 }, "acknowledge sent")
			// Let three escalation timeouts pass, then check nothing escalated.
			natstest.Eventually(t, 10*time.Second, func() bool { return time.Since(pagedAt) > 1800*time.Millisecond }, "time passes")
			if got := e.waitIncident(5*time.Second, func(i events.Incident) bool { return i.ID == inc.ID }, "get"); got.Level != 1 {
				t.Fatalf("acknowledged incident escalated to level %d", got.Level)
			}
			if b, _, _ := e.hook.got(); len(b) != 0 {
				t.Fatalf("webhook got %d messages", len(b))
			}
			if err := e.control(events.VerbResolve, events.IncidentCommand{ID: "res-1", Incident: inc.ID, By: "ana"}, nil); err != nil {
				t.Fatal(err)
			}
			natstest.Eventually(t, 10*time.Second, func() bool { _, n := e.pd.count("resolve"); return n == 1 }, "resolve sent")
			for _, ev := range e.pd.events() {
				if ev.DedupKey != inc.Key {
					t.Fatalf("%s with dedup key %q, want %q", ev.EventAction, ev.DedupKey, inc.Key)
				}
			}
		})
	}
}

// A node's RTT degradation and its stale-connection spike are one
// incident; another node's RTT is another.
func TestRTTAndStaleOnOneNodeAreOneIncident(t *testing.T) {
	e := newEnv(t)
	e.start("a")
	now := time.Now().UTC()
	e.publishAnomaly(nodeAnomaly(events.KindRTTDegraded, "gw-5", now.Add(-time.Second), now, 0.02))
	e.publishAnomaly(nodeAnomaly(events.KindStaleSpike, "gw-5", now.Add(-time.Second), now.Add(time.Second), 0.02))
	e.publishAnomaly(nodeAnomaly(events.KindRTTDegraded, "gw-6", now.Add(-time.Second), now, 0.02))
	inc := e.waitIncident(10*time.Second, func(i events.Incident) bool { return len(i.Anomalies) == 2 }, "gw-5 incident with two anomalies")
	if strings.Join(inc.Kinds, ",") != events.KindRTTDegraded+","+events.KindStaleSpike || strings.Join(inc.Nodes, ",") != "gw-5" {
		t.Fatalf("incident %+v", inc)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return len(e.incidents()) == 2 }, "gw-6 has its own incident")
}

// Resolved incidents leave the KV bucket after the retention, with every
// key that named them; the review stays retrievable.
func TestResolvedIncidentsExpire(t *testing.T) {
	e := newEnv(t)
	e.cfg.Retention = 500 * time.Millisecond
	e.start("a")
	now := time.Now().UTC()
	a := nodeAnomaly(events.KindNodeDown, "gw-8", now.Add(-time.Second), now, 0.05)
	e.publishAnomaly(a)
	inc := e.waitIncident(10*time.Second, func(i events.Incident) bool { return len(i.Anomalies) == 1 }, "opened")
	e.resolveAnomaly(a, now.Add(time.Second))
	natstest.Eventually(t, 10*time.Second, func() bool {
		_, n, _ := e.slack.got()
		return n == 1
	}, "summary sent")
	kv, err := e.js.KeyValue(t.Context(), events.BucketIncidents)
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 15*time.Second, func() bool {
		keys, err := kv.Keys(t.Context())
		return errors.Is(err, jetstream.ErrNoKeysFound) && len(keys) == 0
	}, "bucket emptied")
	var rv events.Review
	if err := e.control(events.VerbReview, events.IncidentRequest{Incident: inc.ID}, &rv); err != nil || rv.IncidentID != inc.ID {
		t.Fatalf("review after expiry: %v", err)
	}
	var ce *events.Error
	if err := e.control(events.VerbIncidentGet, events.IncidentRequest{Incident: inc.ID}, nil); !errors.As(err, &ce) || ce.Code != events.CodeNotFound {
		t.Fatalf("get after expiry: %v", err)
	}
}
