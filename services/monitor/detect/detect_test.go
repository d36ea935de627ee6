package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const step = 5 * time.Second

// at is the time of sample i of a generated series.
func at(i int) time.Time { return t0.Add(time.Duration(i) * step) }

// trace renders transitions as "open@i clear@j" (i: the deciding sample).
func trace(ts []Transition) string {
	var b []string
	for _, t := range ts {
		word := "clear"
		if t.Open {
			word = "open"
		}
		b = append(b, fmt.Sprintf("%s@%d", word, int(t.At.Sub(t0)/step)))
	}
	return strings.Join(b, " ")
}

// gen builds a series of snapshots of node n1 with set applied per value.
func gen(vals []float64, set func(*events.Health, float64)) []Sample {
	out := make([]Sample, len(vals))
	for i, v := range vals {
		h := events.Health{Node: "n1", IntervalMS: step.Milliseconds(), Connections: 1000, Capacity: 2000}
		set(&h, v)
		out[i] = Sample{At: at(i), Health: h}
	}
	return out
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func join(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// alternate returns n values alternating a, b.
func alternate(a, b float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a
		if i%2 == 1 {
			out[i] = b
		}
	}
	return out
}

func feed(d NodeDetector, series []Sample, peers []Sample) []Transition {
	var out []Transition
	for _, s := range series {
		if t := d.Observe(s, peers); t != nil {
			out = append(out, *t)
		}
	}
	return out
}

func TestNodeDetectors(t *testing.T) {
	h := DefaultHysteresis()
	stale := func(h *events.Health, v float64) { h.Stale = int(v) }
	slow := func(h *events.Health, v float64) { h.SlowConsumers = int(v) }
	errs := func(h *events.Health, v float64) { h.Errors = int(v * 5) } // v errors/s over 5 s
	conns := func(h *events.Health, v float64) { h.Connections = int(v * 2000) }
	backlog := func(h *events.Health, v float64) { h.Connections = 10; h.SendBacklog = int(v) }
	cases := []struct {
		name string
		d    NodeDetector
		vals []float64
		set  func(*events.Health, float64)
		want string
	}{
		{"stale quiet", NewStale(DefaultStale(), h), repeat(3, 10), stale, ""},
		{"stale single bad sample", NewStale(DefaultStale(), h), join(repeat(0, 3), []float64{200}, repeat(0, 5)), stale, ""},
		{"stale two bad samples", NewStale(DefaultStale(), h), join(repeat(0, 3), repeat(200, 2), repeat(0, 5)), stale, ""},
		{"stale spike fires and clears", NewStale(DefaultStale(), h), join(repeat(0, 2), repeat(200, 4), repeat(0, 4)), stale, "open@4 clear@8"},
		{"stale hovering at threshold", NewStale(DefaultStale(), h), alternate(60, 55, 20), stale, "open@2"}, // both above 5%: bad
		{"stale hovering across enter", NewStale(DefaultStale(), h), alternate(53, 49, 20), stale, ""},
		{"stale held between thresholds", NewStale(DefaultStale(), h), join(repeat(200, 3), alternate(40, 53, 12)), stale, "open@2"},
		{"stale few closes", NewStale(DefaultStale(), h), join(repeat(4, 10)), func(h *events.Health, v float64) { h.Connections = 10; h.Stale = int(v) }, ""},
		{"slow fires and clears", NewSlow(DefaultSlow(), h), join(repeat(0, 2), repeat(9, 3), repeat(1, 3)), slow, "open@4 clear@7"},
		{"slow hovering", NewSlow(DefaultSlow(), h), alternate(5, 4, 20), slow, ""},
		{"slow held at 3", NewSlow(DefaultSlow(), h), join(repeat(9, 3), repeat(3, 10)), slow, "open@2"},
		{"errors fire and clear", NewErrors(DefaultErrors(), h), join(repeat(0, 1), repeat(20, 3), repeat(0, 3)), errs, "open@3 clear@6"},
		{"errors single burst", NewErrors(DefaultErrors(), h), join(repeat(0, 3), []float64{100}, repeat(0, 3)), errs, ""},
		{"errors hovering at threshold", NewErrors(DefaultErrors(), h), alternate(5, 4.8, 20), errs, ""},
		{"saturation fires and clears", NewSaturation(DefaultSaturation(), h), join(repeat(0.5, 2), repeat(0.95, 3), repeat(0.7, 3)), conns, "open@4 clear@7"},
		{"saturation hovering at 0.9", NewSaturation(DefaultSaturation(), h), join(repeat(0.95, 3), alternate(0.89, 0.91, 20)), conns, "open@2"},
		{"saturation below enter", NewSaturation(DefaultSaturation(), h), alternate(0.85, 0.89, 20), conns, ""},
		{"saturation by backlog", NewSaturation(DefaultSaturation(), h), join(repeat(95000, 3), repeat(10, 3)), backlog, "open@2 clear@5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := trace(feed(c.d, gen(c.vals, c.set), nil))
			if got != c.want {
				t.Fatalf("transitions %q, want %q", got, c.want)
			}
		})
	}
}

func TestNodeDetectorImpactStart(t *testing.T) {
	d := NewStale(DefaultStale(), DefaultHysteresis())
	ts := feed(d, gen(join(repeat(0, 2), repeat(200, 3)), func(h *events.Health, v float64) { h.Stale = int(v) }), nil)
	if len(ts) != 1 || !ts[0].Start.Equal(at(2)) || !ts[0].At.Equal(at(4)) {
		t.Fatalf("got %+v, want one open starting at the first bad sample %v", ts, at(2))
	}
	if ts[0].Evidence.Metric != "stale_share" || ts[0].Evidence.Threshold != 0.05 || ts[0].Severity != events.SeverityWarning {
		t.Fatalf("evidence %+v severity %s", ts[0].Evidence, ts[0].Severity)
	}
}

func TestSeedClears(t *testing.T) {
	d := NewErrors(DefaultErrors(), DefaultHysteresis())
	d.Seed("n1", t0.Add(-time.Hour))
	ts := feed(d, gen(repeat(0, 4), func(h *events.Health, v float64) { h.Errors = int(v) }), nil)
	if trace(ts) != "clear@2" || !ts[0].Start.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("seeded detector: %q %+v", trace(ts), ts)
	}
}

func TestGateZeroValue(t *testing.T) {
	var g Gate
	if fired, _ := g.Observe(Bad, t0); !fired {
		t.Fatal("zero gate should fire on the first bad verdict")
	}
	if _, cleared := g.Observe(Hold, t0); cleared {
		t.Fatal("hold must not clear")
	}
	if _, cleared := g.Observe(Good, t0); !cleared {
		t.Fatal("zero gate should clear on the first good verdict")
	}
}
