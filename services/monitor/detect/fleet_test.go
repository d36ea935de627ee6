package detect

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestStorm(t *testing.T) {
	round := func(accept float64, rejected int) []Sample {
		var out []Sample
		for range 4 {
			out = append(out, Sample{Health: events.Health{Node: "n", IntervalMS: 5000, AcceptRate: accept / 4, Rejected: rejected / 4}})
		}
		return out
	}
	cases := []struct {
		name   string
		rounds [][]Sample
		want   string
	}{
		{"calm", [][]Sample{round(10, 0), round(20, 0), round(10, 0)}, ""},
		{"accept storm fires and clears", [][]Sample{round(800, 0), round(900, 0), round(700, 0), round(50, 0), round(10, 0), round(10, 0)}, "open@2 clear@5"},
		{"rejections alone", [][]Sample{round(100, 400), round(100, 400), round(100, 400)}, "open@2"},
		{"one burst", [][]Sample{round(10, 0), round(2000, 0), round(10, 0), round(10, 0)}, ""},
		{"hovering at the threshold", [][]Sample{round(520, 0), round(480, 0), round(520, 0), round(480, 0), round(520, 0), round(480, 0)}, ""},
		{"held between thresholds", [][]Sample{round(600, 0), round(600, 0), round(600, 0), round(300, 0), round(300, 0), round(300, 0), round(300, 0)}, "open@2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewStorm(DefaultStorm(), DefaultHysteresis())
			var ts []Transition
			for i, r := range c.rounds {
				if tr := d.Observe(at(i), r); tr != nil {
					ts = append(ts, *tr)
				}
			}
			if got := trace(ts); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestImbalance(t *testing.T) {
	loads := func(conns ...int) []Load {
		out := make([]Load, len(conns))
		for i, c := range conns {
			out[i] = Load{Node: string(rune('a' + i)), Connections: c}
		}
		return out
	}
	cases := []struct {
		name   string
		rounds [][]Load
		want   string
		hot    string
	}{
		{"balanced", [][]Load{loads(100, 110, 90), loads(100, 100, 100), loads(105, 95, 100)}, "", ""},
		{"hot node fires and clears", [][]Load{loads(400, 100, 100), loads(400, 100, 100), loads(400, 100, 100), loads(200, 200, 200), loads(200, 200, 200), loads(200, 200, 200)}, "open@2 clear@5", "a"},
		{"a small fleet fires too", [][]Load{loads(40, 1, 1), loads(40, 1, 1), loads(40, 1, 1)}, "open@2", "a"},
		{"a small fleet after a healed crash", [][]Load{loads(30, 30, 0), loads(30, 30, 0), loads(30, 30, 0), loads(21, 20, 19), loads(21, 20, 19), loads(21, 20, 19)}, "open@2 clear@5", "a"},
		{"a few connections apart", [][]Load{loads(4, 1, 1), loads(4, 1, 1), loads(4, 1, 1)}, "", ""},
		{"one node", [][]Load{loads(500), loads(500), loads(500)}, "", ""},
		{"one skewed round", [][]Load{loads(100, 100), loads(400, 10), loads(100, 100), loads(100, 100)}, "", ""},
		{"hovering at the ratio", [][]Load{loads(205, 100, 100), loads(195, 100, 100), loads(205, 100, 100), loads(195, 100, 100), loads(205, 100, 100)}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewImbalance(DefaultImbalance(), DefaultHysteresis())
			var ts []Transition
			for i, r := range c.rounds {
				if tr := d.Observe(at(i), r); tr != nil {
					ts = append(ts, *tr)
				}
			}
			if got := trace(ts); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if c.hot != "" && (len(ts[0].Nodes) != 1 || ts[0].Nodes[0] != c.hot || ts[0].Target != events.FleetTarget) {
				t.Fatalf("hot node %v target %s, want %s on the fleet", ts[0].Nodes, ts[0].Target, c.hot)
			}
		})
	}
}

func TestFlapping(t *testing.T) {
	cases := []struct {
		name    string
		changes []time.Duration // offsets of state changes
		checks  []time.Duration
		want    []bool // opened per check (true open, false clear), in order
	}{
		{"a few changes", []time.Duration{0, time.Minute, 2 * time.Minute}, []time.Duration{3 * time.Minute}, nil},
		{"six changes in five minutes", []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 50 * time.Second},
			[]time.Duration{time.Minute, 2 * time.Minute, 6 * time.Minute}, []bool{true, false}},
		{"spread out over an hour", []time.Duration{0, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 40 * time.Minute, 50 * time.Minute},
			[]time.Duration{10 * time.Minute, 30 * time.Minute, 55 * time.Minute}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewFlapping(DefaultFlapping())
			var got []bool
			ci := 0
			for _, check := range c.checks {
				for ci < len(c.changes) && c.changes[ci] <= check {
					d.Change("n1", t0.Add(c.changes[ci]), false)
					ci++
				}
				for _, tr := range d.Check(t0.Add(check)) {
					got = append(got, tr.Open)
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}
