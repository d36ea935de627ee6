package detect

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func p99(h *events.Health, v float64) { h.RTT = events.RTT{P50: v / 2, P99: v, Samples: 100} }

func peers(vals ...float64) []Sample {
	out := make([]Sample, len(vals))
	for i, v := range vals {
		out[i] = Sample{At: t0, Health: events.Health{Node: "peer", IntervalMS: 5000, RTT: events.RTT{P99: v, Samples: 100}}}
	}
	return out
}

func TestRTT(t *testing.T) {
	cases := []struct {
		name  string
		vals  []float64
		peers []Sample
		pongs int
		want  string
	}{
		{"steady", repeat(10, 20), nil, 100, ""},
		{"degrades against baseline and recovers", join(repeat(10, 6), repeat(50, 4), repeat(10, 3)), nil, 100, "open@8 clear@12"},
		{"single slow snapshot", join(repeat(10, 6), []float64{80}, repeat(10, 6)), nil, 100, ""},
		{"no verdict before warm-up", join(repeat(10, 2), repeat(80, 3)), nil, 100, ""},
		{"small absolute rise is no degradation", join(repeat(2, 6), repeat(8, 5)), nil, 100, ""},
		{"hovering at the enter threshold", join(repeat(10, 6), alternate(31, 29, 20)), nil, 100, ""},
		{"held between thresholds does not clear", join(repeat(10, 6), repeat(60, 3), repeat(25, 10)), nil, 100, "open@8"},
		{"fleet outlier without baseline", repeat(100, 4), peers(10, 11, 12), 100, "open@2"},
		{"too few peers for the fleet test", repeat(100, 4), peers(10, 11), 100, ""},
		{"too few pongs are skipped", join(repeat(10, 6), repeat(80, 5)), nil, 3, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewRTT(DefaultRTT(), DefaultHysteresis())
			series := gen(c.vals, func(h *events.Health, v float64) { p99(h, v); h.RTT.Samples = c.pongs })
			if got := trace(feed(d, series, c.peers)); got != c.want {
				t.Fatalf("transitions %q, want %q", got, c.want)
			}
		})
	}
}

func TestRTTBaselineIgnoresDegradation(t *testing.T) {
	d := NewRTT(DefaultRTT(), DefaultHysteresis())
	feed(d, gen(join(repeat(10, 6), repeat(200, 20)), p99), nil)
	base, warm := d.Baseline("n1")
	if !warm || base > 11 {
		t.Fatalf("baseline %.1f warm %v: a lasting degradation must not become the baseline", base, warm)
	}
}

func TestRTTRestore(t *testing.T) {
	d := NewRTT(DefaultRTT(), DefaultHysteresis())
	feed(d, gen(repeat(10, 6), p99), nil)
	saved := d.Baselines()
	d2 := NewRTT(DefaultRTT(), DefaultHysteresis())
	d2.Restore(saved)
	// No warm-up after a restore: a degradation right away is seen.
	if got := trace(feed(d2, gen(repeat(60, 3), p99), nil)); got != "open@2" {
		t.Fatalf("restored detector: %q", got)
	}
}

func TestRTTSnapshotWithoutPongsIsNoBadSample(t *testing.T) {
	d := NewRTT(DefaultRTT(), DefaultHysteresis())
	feed(d, gen(join(repeat(10, 6), repeat(80, 3)), p99), nil)
	if !d.Degraded("n1") || !d.Bad("n1") {
		t.Fatal("a degraded node with a bad latest sample is not reported so")
	}
	// Its clients are away: snapshots from too few pongs.
	quiet := Sample{At: t0.Add(time.Minute), Health: events.Health{Node: "n1", IntervalMS: 5000, RTT: events.RTT{P99: 0, Samples: 2}}}
	if tr := d.Observe(quiet, nil); tr != nil {
		t.Fatalf("a snapshot without evidence moved the gate: %+v", tr)
	}
	if !d.Degraded("n1") || d.Bad("n1") {
		t.Fatalf("without pongs: degraded %v (want true: the verdict stands), bad %v (want false: no bad sample now)", d.Degraded("n1"), d.Bad("n1"))
	}
	// Clients back and still slow: bad again.
	slow := Sample{At: t0.Add(2 * time.Minute), Health: events.Health{Node: "n1", IntervalMS: 5000, RTT: events.RTT{P99: 80, Samples: 100}}}
	d.Observe(slow, nil)
	if !d.Bad("n1") {
		t.Fatal("a bad sample after the quiet one is not bad")
	}
}
