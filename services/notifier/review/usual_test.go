package review

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestUsual(t *testing.T) {
	past := []Past{
		{ID: "a", Kinds: []string{events.KindNodeDown}, MTTD: time.Second},
		{ID: "b", Kinds: []string{events.KindNodeDown, events.KindNodeHung}, MTTD: 3 * time.Second},
		{ID: "c", Kinds: []string{events.KindRTTDegraded}, MTTD: 20 * time.Second},
		{ID: "d", Kinds: []string{events.KindNodeHung}, MTTD: 2 * time.Second},
		{ID: "self", Kinds: []string{events.KindNodeDown}, MTTD: time.Hour},
	}
	for _, tc := range []struct {
		kinds []string
		want  time.Duration
		n     int
	}{
		{[]string{events.KindNodeDown}, 2 * time.Second, 2},
		{[]string{events.KindNodeHung, events.KindNodeDown}, 2 * time.Second, 3},
		{[]string{events.KindRTTDegraded}, 20 * time.Second, 1},
		{[]string{events.KindSaturation}, 0, 0},
	} {
		if got, n := Usual(past, "self", tc.kinds); got != tc.want || n != tc.n {
			t.Fatalf("Usual(%v) = %v of %d, want %v of %d", tc.kinds, got, n, tc.want, tc.n)
		}
	}
}

// A detection is slow against the fleet's usual once enough past
// incidents give one, and against the fixed 5 s before.
func TestSlowDetectionAgainstUsual(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	inc := events.Incident{ID: "inc-9", Severity: "SEV3", Kinds: []string{events.KindRTTDegraded}, Nodes: []string{"gw-1"},
		ImpactStart: t0, ResolvedAt: t0.Add(time.Minute)}
	usual := func(d time.Duration, n int) []Past {
		var ps []Past
		for i := range n {
			ps = append(ps, Past{ID: "p" + string(rune('a'+i)), Kinds: []string{events.KindRTTDegraded}, MTTD: d})
		}
		return ps
	}
	for _, tc := range []struct {
		name string
		mttd time.Duration
		past []Past
		want string // "" for no slow line
	}{
		{"3s against a usual 1s", 3 * time.Second, usual(time.Second, 3),
			"Slow detection: MTTD 3s against the fleet's usual 1s for rtt_degraded (the median of 3 past incidents); lower WSHEAL_MONITOR_FIRE_AFTER"},
		{"12s against a usual 10s", 12 * time.Second, usual(10*time.Second, 4), ""},
		{"3s, too little history: the fixed threshold", 3 * time.Second, usual(time.Second, 2), ""},
		{"9s, no history: the fixed threshold", 9 * time.Second, nil, "Slow detection: MTTD 9s, above 5s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(Input{Incident: inc, DetectedAt: t0.Add(tc.mttd), Human: true, Past: tc.past})
			_, section, _ := strings.Cut(r.Markdown, "## What to tune\n")
			if tc.want == "" && strings.Contains(section, "Slow detection") || tc.want != "" && !strings.Contains(section, tc.want) {
				t.Fatalf("want %q:\n%s", tc.want, section)
			}
		})
	}
}
