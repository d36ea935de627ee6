package review

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestWhatToTune(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	down := events.Incident{ID: "inc-1", Severity: "SEV3", Kinds: []string{events.KindNodeDown}, Nodes: []string{"gw-1"},
		ImpactStart: t0, ResolvedAt: t0.Add(20 * time.Second)}
	rtt := events.Incident{ID: "inc-2", Severity: "SEV4", Kinds: []string{events.KindRTTDegraded}, Nodes: []string{"gw-2"},
		ImpactStart: t0, ResolvedAt: t0.Add(20 * time.Second)}
	fp := rtt
	fp.Timeline = []events.TimelineEntry{{Time: t0.Add(30 * time.Second), Kind: "note", Text: "False positive: a deploy", Author: "ops"}}
	act := func(action, result, reason string, at time.Duration, attempt int) events.ActionResult {
		return events.ActionResult{Action: action, Target: "gw-1", Result: result, Reason: reason, Attempt: attempt, At: t0.Add(at)}
	}
	for _, tc := range []struct {
		name     string
		in       Input
		want     []string
		nothing  bool
		notWants []string
	}{
		{"a runbook wasted time, the restart worked", Input{Incident: down, DetectedAt: t0.Add(2 * time.Second), Actions: []events.ActionResult{
			act(events.ActionWebhook, events.PhaseFailed, "post-condition node_healthy not met", 5*time.Second, 1),
			act(events.ActionRestart, events.PhaseSucceeded, "gw-1 restarted", 6*time.Second, 2)}},
			[]string{"Remedy that worked: restart on gw-1 (attempt 2); 1 of 2", "Wasted time: webhook on gw-1 failed once, about 3s in all",
				"WSHEAL_HEALER_DEMOTE_AFTER", "wsheal healer record --kind node_down"}, false, []string{"Slow detection"}},
		{"the same remedy failed three times", Input{Incident: down, DetectedAt: t0.Add(2 * time.Second), Human: true, Actions: []events.ActionResult{
			act(events.ActionRestart, events.PhaseFailed, "no heartbeat", 62*time.Second, 1),
			act(events.ActionRestart, events.PhaseFailed, "no heartbeat", 122*time.Second, 2),
			act(events.ActionRestart, events.PhaseFailed, "still none", 182*time.Second, 3)}},
			[]string{"Wasted time: restart on gw-1 failed 3 times, about 3m0s in all (last: still none)"}, false, []string{"Remedy that worked"}},
		{"slow detection of a dead node", Input{Incident: down, DetectedAt: t0.Add(9 * time.Second), Actions: []events.ActionResult{
			act(events.ActionRestart, events.PhaseSucceeded, "", 10*time.Second, 1)}},
			[]string{"MTTD 9s", "WSHEAL_MONITOR_DOWN_MISSES"}, false, []string{"Wasted"}},
		{"held back by the backoff", Input{Incident: down, DetectedAt: t0.Add(time.Second), Actions: []events.ActionResult{
			act(events.ActionRestart, events.PhaseSkipped, events.SkipCooldown, 2*time.Second, 1)}},
			[]string{"WSHEAL_HEALER_BACKOFF_BASE"}, false, nil},
		{"an operator's false positive", Input{Incident: fp, DetectedAt: t0.Add(time.Second), Human: true},
			[]string{"False positive (a deploy): raise WSHEAL_MONITOR_RTT_FACTOR"}, false, []string{"Cleared with no remedy"}},
		{"cleared by itself", Input{Incident: rtt, DetectedAt: t0.Add(time.Second)},
			[]string{"Cleared with no remedy: rtt_degraded", "WSHEAL_MONITOR_RTT_FACTOR", "WSHEAL_MONITOR_FIRE_AFTER"}, false, nil},
		{"nothing to tune", Input{Incident: down, DetectedAt: t0.Add(time.Second), Human: true}, nil, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(tc.in)
			_, section, ok := strings.Cut(r.Markdown, "## What to tune\n")
			if !ok {
				t.Fatalf("no section:\n%s", r.Markdown)
			}
			for _, w := range tc.want {
				if !strings.Contains(section, w) {
					t.Fatalf("lacks %q:\n%s", w, section)
				}
			}
			for _, w := range tc.notWants {
				if strings.Contains(section, w) {
					t.Fatalf("has %q:\n%s", w, section)
				}
			}
			if tc.nothing != strings.Contains(section, "Nothing:") {
				t.Fatalf("section:\n%s", section)
			}
			// The review's tune field holds the same lines, for programs.
			if tc.nothing != (len(r.Tune) == 0) {
				t.Fatalf("tune %q, section:\n%s", r.Tune, section)
			}
			for _, l := range r.Tune {
				if !strings.Contains(section, "- "+l+"\n") {
					t.Fatalf("tune line %q not in the section:\n%s", l, section)
				}
			}
		})
	}
}
