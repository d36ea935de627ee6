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
	d := NewFleetDegraded(CorrelationConfig{Share: 0.5, MinNodes: 2, ClearAfter: 3})
	all := []Shift{{Kind: events.KindRTTDegraded, Nodes: []string{"a", "b", "c"}}, {Kind: events.KindStaleSpike, Nodes: []string{"a"}}}
	one := []Shift{{Kind: events.KindRTTDegraded, Nodes: []string{"b"}}}
	rounds := [][]Shift{one, all, all, nil, all, nil, nil, one, one}
	var ts []Transition
	for i, r := range rounds {
		if tr := d.Observe(at(i), 3, r); tr != nil {
			ts = append(ts, *tr)
		}
	}
	if got := trace(ts); got != "open@1 clear@7" {
		t.Fatalf("trace %q", got)
	}
	o := ts[0]
	if o.Target != events.FleetTarget || len(o.Nodes) != 3 || o.Evidence.Value != 1 || o.Severity != events.SeverityWarning {
		t.Fatalf("open %+v", o)
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
