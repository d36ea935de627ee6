package review

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestDurations(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	inc := events.Incident{ID: "inc-1", Title: "Gateway nodes unavailable", Severity: "SEV3", Kinds: []string{events.KindNodeDown},
		Nodes: []string{"gw-1"}, ImpactStart: t0, MitigatedAt: t0.Add(9 * time.Second), ResolvedAt: t0.Add(15 * time.Second),
		Timeline: []events.TimelineEntry{{Time: t0.Add(15 * time.Second), Kind: "anomaly", Text: "node_down resolved"},
			{Time: t0, Kind: "anomaly", Text: "node_down opened"}}}
	acts := []events.ActionResult{{Action: events.ActionRestart, Target: "gw-1", Result: events.PhaseSucceeded, Attempt: 1, At: t0.Add(9 * time.Second)}}
	for _, tc := range []struct {
		name  string
		acked time.Time
		paged bool
		human bool
		mtta  int64
	}{
		{"auto-healed", time.Time{}, false, false, 0},
		{"acked", t0.Add(5 * time.Second), true, true, 2000},
		{"paged, never acked", time.Time{}, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inc
			in.AckedAt, in.Paged = tc.acked, tc.paged
			r := Build(Input{Incident: in, Actions: acts, DetectedAt: t0.Add(3 * time.Second), Human: !tc.acked.IsZero(),
				Detection: []string{"node_down on gw-1: heartbeat_age_ms 5000 against threshold 3000"}})
			if r.MTTDMS != 3000 || r.MTTRMS != 15000 || r.MTTMMS != 9000 || r.MTTAMS != tc.mtta || r.DurationMS != 15000 {
				t.Fatalf("durations %+v", r)
			}
			if r.AutoHealed == tc.human {
				t.Fatalf("auto-healed %v", r.AutoHealed)
			}
			for _, want := range []string{"# Post-incident review", "MTTD | 3s", "MTTR | 15s", "restart on gw-1", "node_down opened", "heartbeat_age_ms 5000"} {
				if !strings.Contains(r.Markdown, want) {
					t.Fatalf("markdown lacks %q:\n%s", want, r.Markdown)
				}
			}
			if r.Timeline[0].Text != "node_down opened" || in.Timeline[0].Text != "node_down resolved" {
				t.Fatalf("timeline not sorted by time in a copy: %+v", r.Timeline)
			}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNoImpactStartFallsBackToDetection(t *testing.T) {
	t0 := time.Unix(1000, 0).UTC()
	r := Build(Input{Incident: events.Incident{ID: "i", ResolvedAt: t0.Add(time.Minute)}, DetectedAt: t0})
	if r.MTTDMS != 0 || r.MTTRMS != 60000 || r.Actions == nil || r.Timeline == nil {
		t.Fatalf("%+v", r)
	}
}
