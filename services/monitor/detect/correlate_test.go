package detect

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestCorrelationRule(t *testing.T) {
	c := DefaultCorrelation()
	cases := []struct {
		bad, active int
		want        bool
	}{
		{1, 3, false}, {2, 3, true}, {3, 3, true}, {1, 2, false}, {2, 2, true},
		{1, 1, false}, {5, 10, false}, {6, 10, true},
	}
	for _, tc := range cases {
		if got := c.Shared(tc.bad, tc.active); got != tc.want {
			t.Errorf("%d of %d: shared %v, want %v", tc.bad, tc.active, got, tc.want)
		}
	}
}

func TestFleetDegradedFiresOnceAndClears(t *testing.T) {
	abc := []string{"a", "b", "c"}
	all := []Shift{{Kind: events.KindRTTDegraded, Nodes: abc, Now: abc}, {Kind: events.KindStaleSpike, Nodes: []string{"a"}, Now: []string{"a"}}}
	one := []Shift{{Kind: events.KindRTTDegraded, Nodes: []string{"b"}, Now: []string{"b"}}}
	// Every node's detector still fires, but their latest samples are good:
	// peers are healthy again, their gates clear on their own hysteresis.
	recovering := []Shift{{Kind: events.KindRTTDegraded, Nodes: abc, Now: []string{"c"}}}
	type round struct {
		shifts []Shift
		lapsed bool
	}
	cases := []struct {
		name   string
		clear  int
		rounds []round
		want   string
	}{
		{"opens once, clears after ClearAfter good rounds", 3,
			[]round{{one, false}, {all, false}, {all, false}, {nil, false}, {all, false}, {nil, false}, {nil, false}, {one, false}, {one, false}}, "open@1 clear@7"},
		{"clears once peers' latest samples are good", 2,
			[]round{{all, false}, {recovering, false}, {recovering, false}, {recovering, false}}, "open@0 clear@2"},
		{"a shared heartbeat lapse keeps it open", 2,
			[]round{{all, false}, {nil, true}, {nil, false}, {nil, true}, {nil, false}, {nil, false}}, "open@0 clear@5"},
		{"detectors firing on good samples open nothing", 2,
			[]round{{recovering, false}, {recovering, false}, {recovering, false}}, ""},
		{"a shared lapse alone opens nothing", 2,
			[]round{{nil, true}, {nil, true}, {one, true}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewFleetDegraded(CorrelationConfig{Share: 0.5, MinNodes: 2, ClearAfter: c.clear})
			var ts []Transition
			for i, r := range c.rounds {
				if tr := d.Observe(at(i), 3, r.shifts, r.lapsed); tr != nil {
					ts = append(ts, *tr)
				}
			}
			if got := trace(ts); got != c.want {
				t.Fatalf("trace %q, want %q", got, c.want)
			}
			if len(ts) == 0 {
				return
			}
			o := ts[0]
			if o.Target != events.FleetTarget || len(o.Nodes) != 3 || o.Evidence.Value != 1 || o.Severity != events.SeverityWarning {
				t.Fatalf("open %+v", o)
			}
		})
	}
}

func TestGateDegradedCountsARunAboutToFire(t *testing.T) {
	g := Gate{FireAfter: 3, ClearAfter: 3}
	steps := []struct {
		v    Verdict
		want bool
	}{{Good, false}, {Bad, false}, {Hold, false}, {Bad, false}, {Bad, true}, {Good, false},
		{Bad, false}, {Bad, true}, {Bad, true}, {Good, true}, {Good, true}, {Good, false}}
	for i, s := range steps {
		g.Observe(s.v, at(i))
		if g.Degraded() != s.want {
			t.Fatalf("sample %d: degraded %v, want %v", i, g.Degraded(), s.want)
		}
	}
}
