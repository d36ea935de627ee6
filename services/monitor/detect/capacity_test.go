package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// use is a fleet round of n nodes of capacity 100 each holding conns in all.
func use(n, conns int) FleetLoad {
	u := FleetLoad{Connections: conns, Capacity: 100 * n}
	for i := range n {
		u.Nodes = append(u.Nodes, fmt.Sprintf("g%d", i+1))
	}
	return u
}

// Rounds are 5 s apart (step): a 20 s window is the fifth bad round.
func TestFleetSaturated(t *testing.T) {
	cases := []struct {
		name   string
		rounds []FleetLoad
		want   string
	}{
		{"calm", []FleetLoad{use(3, 100), use(3, 150), use(3, 200)}, ""},
		{"sustained for the window", []FleetLoad{use(3, 250), use(3, 260), use(3, 270), use(3, 280), use(3, 290), use(3, 290)}, "open@4"},
		{"one round short of the window", []FleetLoad{use(3, 250), use(3, 260), use(3, 270), use(3, 280), use(3, 100)}, ""},
		{"a round between the thresholds breaks the run", []FleetLoad{use(3, 250), use(3, 250), use(3, 220), use(3, 250), use(3, 250), use(3, 250), use(3, 250)}, ""},
		{"clears after three good rounds", []FleetLoad{use(3, 250), use(3, 250), use(3, 250), use(3, 250), use(3, 250), use(3, 100), use(3, 100), use(3, 100)}, "open@4 clear@7"},
		{"held between the thresholds", []FleetLoad{use(3, 250), use(3, 250), use(3, 250), use(3, 250), use(3, 250), use(3, 220), use(3, 220), use(3, 220), use(3, 220)}, "open@4"},
		{"a node more ends it; still saturated, it opens again a window later",
			[]FleetLoad{use(3, 270), use(3, 270), use(3, 270), use(3, 270), use(3, 270), use(4, 350), use(4, 350), use(4, 350), use(4, 350), use(4, 350)}, "open@4 clear@5 open@9"},
		{"no capacity known", []FleetLoad{{Nodes: []string{"g1"}, Connections: 10}, {Nodes: []string{"g1"}, Connections: 10}}, ""},
		{"one node alone can be saturated", []FleetLoad{use(1, 90), use(1, 90), use(1, 90), use(1, 90), use(1, 90)}, "open@4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewFleetSaturated(DefaultCapacity(), DefaultHysteresis())
			if got := trace(feedCapacity(d, c.rounds)); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestFleetUnderused(t *testing.T) {
	long := func(n int, u FleetLoad) []FleetLoad {
		out := make([]FleetLoad, n)
		for i := range out {
			out[i] = u
		}
		return out
	}
	cases := []struct {
		name   string
		rounds []FleetLoad
		want   string
	}{
		// 2 min of 5 s rounds: open at the 25th round (index 24).
		{"sustained for the window", long(26, use(3, 60)), "open@24"},
		{"busy", long(30, use(3, 150)), ""},
		{"one node is never underused", long(30, use(1, 1)), ""},
		{"one busy round restarts the window", append(append(long(20, use(3, 60)), use(3, 200)), long(20, use(3, 60))...), ""},
		{"a node fewer ends it", append(long(25, use(3, 60)), long(3, use(2, 60))...), "open@24 clear@25"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewFleetUnderused(DefaultCapacity(), DefaultHysteresis())
			if got := trace(feedCapacity(d, c.rounds)); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestFleetUnderusedFloor: a fleet at its floor (FLEET_UNDERUSED_FLOOR,
// the healer's SCALE_MIN) is never underused; one node above it is.
func TestFleetUnderusedFloor(t *testing.T) {
	cfg := DefaultCapacity()
	cfg.UnderusedFloor = 3
	idle := make([]FleetLoad, 30)
	for i := range idle {
		idle[i] = use(3, 1)
	}
	if got := trace(feedCapacity(NewFleetUnderused(cfg, DefaultHysteresis()), idle)); got != "" {
		t.Fatalf("three idle nodes at a floor of three: %q, want nothing", got)
	}
	for i := range idle {
		idle[i] = use(4, 1)
	}
	if got := trace(feedCapacity(NewFleetUnderused(cfg, DefaultHysteresis()), idle)); got != "open@24" {
		t.Fatalf("four idle nodes at a floor of three: %q, want open@24", got)
	}
}

// The anomaly says what was seen: utilisation, window, nodes, and why it
// ended.
func TestCapacityTransitionsSayWhy(t *testing.T) {
	d := NewFleetSaturated(DefaultCapacity(), DefaultHysteresis())
	ts := feedCapacity(d, []FleetLoad{use(2, 170), use(2, 170), use(2, 170), use(2, 170), use(2, 180), use(3, 180)})
	if len(ts) != 2 {
		t.Fatalf("transitions %+v", ts)
	}
	open, end := ts[0], ts[1]
	if open.Target != events.FleetTarget || open.Severity != events.SeverityWarning || open.Evidence.Value != 0.9 ||
		open.Evidence.WindowMS != 20000 || len(open.Nodes) != 2 || !open.Start.Equal(at(0)) {
		t.Fatalf("open %+v", open)
	}
	if !strings.Contains(open.Summary, "90% of its capacity (180 of 200 connections on 2 nodes) for 20s") {
		t.Fatalf("summary %q", open.Summary)
	}
	if end.Open || !strings.Contains(end.Summary, "changed size (2 to 3 nodes)") {
		t.Fatalf("end %+v", end)
	}
	// Restored from the ledger: firing, and the first round's size is the
	// fleet's, not a change.
	r := NewFleetSaturated(DefaultCapacity(), DefaultHysteresis())
	r.Seed(at(0))
	if tr := r.Observe(at(1), use(3, 280)); tr != nil || !r.Firing() {
		t.Fatalf("seeded detector moved on its first round: %+v", tr)
	}
	if tr := r.Observe(at(2), use(3, 280)); tr != nil || !r.Firing() {
		t.Fatalf("seeded detector moved: %+v", tr)
	}
}

func feedCapacity(d *Capacity, rounds []FleetLoad) []Transition {
	var ts []Transition
	for i, u := range rounds {
		if tr := d.Observe(at(i), u); tr != nil {
			ts = append(ts, *tr)
		}
	}
	return ts
}

// A window of 0 turns a detector off.
func TestCapacityOff(t *testing.T) {
	cfg := DefaultCapacity()
	cfg.UnderusedFor = 0
	d := NewFleetUnderused(cfg, DefaultHysteresis())
	for i := range 50 {
		if tr := d.Observe(at(i), use(3, 0)); tr != nil {
			t.Fatalf("an idle fleet opened %s with the detector off", tr.Kind)
		}
	}
}

// A detector's clock is the rounds' own: no round, no time passes.
func TestCapacityWindowIsTheRoundsTime(t *testing.T) {
	d := NewFleetSaturated(CapacityConfig{SaturatedEnter: 0.8, SaturatedLeave: 0.7, SaturatedFor: time.Minute}, DefaultHysteresis())
	if tr := d.Observe(t0, use(2, 190)); tr != nil {
		t.Fatal("opened at once")
	}
	if tr := d.Observe(t0.Add(59*time.Second), use(2, 190)); tr != nil {
		t.Fatal("opened before the window")
	}
	if tr := d.Observe(t0.Add(time.Minute), use(2, 190)); tr == nil || !tr.Open {
		t.Fatal("not open after the window")
	}
}
