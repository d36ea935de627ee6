package incident

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/policy"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func anomaly(kind, target string, at time.Time, share float64) *events.Anomaly {
	return &events.Anomaly{ID: events.AnomalyID(kind, target, at), Kind: kind, State: events.AnomalyOpen, Target: target,
		Severity: events.SeverityError, Impact: events.Impact{Connections: int(share * 1000), Share: share, Nodes: 1, FleetNodes: 10},
		Summary: kind + " " + target, ImpactStart: at.Add(-2 * time.Second), DetectedAt: at}
}

func resolved(a *events.Anomaly, at time.Time) *events.Anomaly {
	b := *a
	b.State, b.ResolvedAt = events.AnomalyResolved, at
	return &b
}

func rules(levels ...policy.Level) *Rules {
	if len(levels) == 0 {
		levels = []policy.Level{{Sinks: []string{sink.PagerDuty}, Timeout: time.Minute}, {Sinks: []string{sink.PagerDuty, sink.Webhook}}}
	}
	return &Rules{Policy: policy.Policy{Levels: levels, PageAtOnce: []string{policy.SEV1}, PageAfterFailures: 1,
		Repeat: time.Hour, SummarySinks: []string{sink.Slack}}, Sinks: []string{sink.PagerDuty, sink.Webhook, sink.Slack},
		ReviewDelay: 5 * time.Second}
}

func TestGroup(t *testing.T) {
	for _, tc := range []struct {
		a, b *events.Anomaly
		same bool
	}{
		{anomaly(events.KindNodeDown, "gw-1", t0, 0.1), anomaly(events.KindNodeDown, "gw-2", t0, 0.1), true},
		{anomaly(events.KindNodeDown, "gw-1", t0, 0.1), anomaly(events.KindNodeHung, "gw-3", t0, 0.1), true},
		{anomaly(events.KindRTTDegraded, "gw-1", t0, 0.1), anomaly(events.KindStaleSpike, "gw-1", t0, 0.1), true},
		{anomaly(events.KindRTTDegraded, "gw-1", t0, 0.1), anomaly(events.KindStaleSpike, "gw-2", t0, 0.1), false},
		{anomaly(events.KindSaturation, "gw-1", t0, 0.1), anomaly(events.KindRTTDegraded, "gw-1", t0, 0.1), false},
	} {
		t.Run(tc.a.Kind+"+"+tc.b.Kind, func(t *testing.T) {
			if got := Group(tc.a) == Group(tc.b); got != tc.same {
				t.Fatalf("same group = %v, want %v (%s, %s)", got, tc.same, Group(tc.a), Group(tc.b))
			}
		})
	}
	a := anomaly(events.KindNodeDown, "gw-1", t0, 0.1)
	b := anomaly(events.KindNodeDown, "gw-2", t0, 0.1) // another node, same second
	if Key(Group(a), a) != "wsheal/availability/"+strconv.FormatInt(t0.Unix(), 10) || ID(Key(Group(a), a)) != ID(Key(Group(b), b)) {
		t.Fatalf("key %q not stable", Key(Group(a), a))
	}
}

func TestAutoResolveWhenAllAnomaliesResolve(t *testing.T) {
	a1 := anomaly(events.KindNodeDown, "gw-1", t0, 0.1)
	a2 := anomaly(events.KindNodeDown, "gw-2", t0.Add(time.Second), 0.1)
	r := newRecord("inc-x", "k", Group(a1), a1, t0)
	if !r.addAnomaly(a2) || len(r.Open) != 2 || len(r.Nodes) != 2 || r.Impact.Connections != 200 {
		t.Fatalf("after two: %+v", r.Incident)
	}
	if ok, err := r.resolveAnomaly(resolved(a1, t0.Add(10*time.Second)), t0); !ok || err != nil || r.State == events.IncidentResolved {
		t.Fatalf("one resolved: %v %v %s", ok, err, r.State)
	}
	last := t0.Add(20 * time.Second)
	if ok, _ := r.resolveAnomaly(resolved(a2, last), t0); !ok || r.State != events.IncidentResolved || !r.ResolvedAt.Equal(last) {
		t.Fatalf("all resolved: %s at %v", r.State, r.ResolvedAt)
	}
	if !r.ImpactStart.Equal(a1.ImpactStart) || !r.Track.DetectedAt.Equal(a1.DetectedAt) {
		t.Fatalf("impact start %v detected %v", r.ImpactStart, r.Track.DetectedAt)
	}
	if _, err := r.resolveAnomaly(resolved(anomaly("x", "y", t0, 0), t0), t0); err != ErrNotMember {
		t.Fatalf("unknown anomaly: %v", err)
	}
}

func TestHealedIncidentIsSummarisedNotPaged(t *testing.T) {
	a := anomaly(events.KindNodeDown, "gw-1", t0, 0.05)
	r := newRecord("inc-x", "k", Group(a), a, t0)
	rl := rules()
	r.decide(rl, t0)
	rem := &events.Remediation{ID: "r1", AnomalyID: a.ID, Action: events.ActionRestart, Target: "gw-1", Phase: events.PhaseSucceeded, Attempt: 1}
	r.addRemediation(rem, t0.Add(5*time.Second), 1)
	if r.State != events.IncidentMitigated || r.Paged {
		t.Fatalf("state %s paged %v", r.State, r.Paged)
	}
	_, _ = r.resolveAnomaly(resolved(a, t0.Add(8*time.Second)), t0)
	r.decide(rl, t0.Add(9*time.Second))
	if len(r.Track.Pending) != 0 || r.Track.ReviewDue {
		t.Fatalf("before the review delay: %+v", r.Track.Pending)
	}
	r.decide(rl, t0.Add(15*time.Second))
	if !r.Track.ReviewDue || len(r.Track.Pending) != 1 || r.Track.Pending[0].Action != sink.ActionSummary || r.Track.Pending[0].Sink != sink.Slack {
		t.Fatalf("summary: due %v pending %+v", r.Track.ReviewDue, r.Track.Pending)
	}
}

func TestFailedRemediationPagesAndEscalates(t *testing.T) {
	a := anomaly(events.KindNodeDown, "gw-1", t0, 0.05)
	r := newRecord("inc-x", "k", Group(a), a, t0)
	rl := rules()
	r.addRemediation(&events.Remediation{ID: "r1", AnomalyID: a.ID, Action: events.ActionRestart, Target: "gw-1", Phase: events.PhaseFailed, Attempt: 3}, t0, 1)
	r.Track.Seq++
	if !r.decide(rl, t0) || !r.Paged || r.Level != 1 || actions(r) != "trigger:pagerduty" {
		t.Fatalf("page: paged %v level %d pending %s", r.Paged, r.Level, actions(r))
	}
	r.Track.Pending = nil
	if r.decide(rl, t0.Add(30*time.Second)) {
		t.Fatal("escalated before the timeout")
	}
	r.Track.Seq++
	if !r.decide(rl, t0.Add(61*time.Second)) || r.Level != 2 || actions(r) != "escalate:pagerduty,escalate:webhook" {
		t.Fatalf("escalate: level %d pending %s", r.Level, actions(r))
	}
	r.Track.Pending = nil
	if changed, err := r.ack(&events.IncidentCommand{ID: "c1", Incident: r.ID, By: "ana"}, t0.Add(70*time.Second)); !changed || err != nil {
		t.Fatal("ack", err)
	}
	if actions(r) != "acknowledge:pagerduty,acknowledge:webhook" || r.State != events.IncidentAcknowledged {
		t.Fatalf("ack: %s %s", actions(r), r.State)
	}
	r.Track.Pending = nil
	if r.decide(rl, t0.Add(10*time.Hour)) {
		t.Fatal("acknowledged incident escalated or repeated")
	}
	if changed, _ := r.ack(&events.IncidentCommand{ID: "c1", Incident: r.ID}, t0); changed {
		t.Fatal("same ack id applied twice")
	}
}

func TestRepeatUntilAcked(t *testing.T) {
	a := anomaly(events.KindNodeDown, "gw-1", t0, 0.6) // SEV1 pages at once
	r := newRecord("inc-x", "k", Group(a), a, t0)
	rl := rules(policy.Level{Sinks: []string{sink.PagerDuty}})
	r.decide(rl, t0)
	if !r.Paged || r.Severity != policy.SEV1 {
		t.Fatalf("SEV1 not paged: %s", r.Severity)
	}
	r.Track.Pending = nil
	r.Track.Seq++
	if !r.decide(rl, t0.Add(time.Hour)) || actions(r) != "repeat:pagerduty" {
		t.Fatalf("repeat: %s", actions(r))
	}
}

func TestSilenceSuppressesPage(t *testing.T) {
	a := anomaly(events.KindNodeDown, "gw-1", t0, 0.6)
	r := newRecord("inc-x", "k", Group(a), a, t0)
	rl := rules()
	rl.Silences = []events.Silence{{ID: "maint", Node: "gw-*", StartsAt: t0.Add(-time.Minute), EndsAt: t0.Add(time.Hour)}}
	r.decide(rl, t0)
	if r.Paged || r.Track.Suppressed != "maint" || len(r.Track.Notices) != 1 || len(r.Track.Pending) != 0 {
		t.Fatalf("silenced: paged %v suppressed %q", r.Paged, r.Track.Suppressed)
	}
	if r.decide(rl, t0.Add(time.Second)) {
		t.Fatal("suppressed twice")
	}
	if !r.decide(rl, t0.Add(2*time.Hour)) || !r.Paged {
		t.Fatal("not paged after the silence expired")
	}
}

func actions(r *Record) string {
	var s []string
	for _, m := range r.Track.Pending {
		s = append(s, m.Action+":"+m.Sink)
	}
	slices.Sort(s)
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

func TestFailuresBeforePage(t *testing.T) {
	fail := func(n int) *events.Remediation {
		return &events.Remediation{ID: fmt.Sprintf("r%d", n), AnomalyID: "a", Action: events.ActionRestart, Target: "gw-1", Phase: events.PhaseFailed, Attempt: n}
	}
	escalation := &events.Remediation{ID: "e", AnomalyID: "a", Action: events.ActionEscalate, Target: "gw-1",
		Phase: events.PhaseSucceeded, Reason: events.SkipRetryCap, Escalate: true, Detail: "3 attempts failed"}
	for _, tc := range []struct {
		name      string
		pageAfter int
		events    []*events.Remediation
		want      []bool // page wanted after each event
	}{
		{"first failure pages", 1, []*events.Remediation{fail(1)}, []bool{true}},
		{"second failure pages", 2, []*events.Remediation{fail(1), fail(2)}, []bool{false, true}},
		{"failures alone never page", 0, []*events.Remediation{fail(1), fail(2), fail(3), escalation}, []bool{false, false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := anomaly(events.KindNodeDown, "gw-1", t0, 0.05)
			r := newRecord("inc-x", "k", Group(a), a, t0)
			for i, rem := range tc.events {
				r.addRemediation(rem, t0, tc.pageAfter)
				if got := r.Track.PageReason != ""; got != tc.want[i] {
					t.Fatalf("after event %d: page wanted %v (%q)", i, got, r.Track.PageReason)
				}
			}
		})
	}
}
