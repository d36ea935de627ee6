package fleet

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDerivePrecedence(t *testing.T) {
	cases := []struct {
		name string
		set  func(*Node)
		want string
	}{
		{"healthy", func(*Node) {}, events.NodeHealthy},
		{"degraded", func(n *Node) { n.Degraded["rtt_degraded"] = true }, events.NodeDegraded},
		{"late beats suspect", func(n *Node) { n.Late = true; n.Degraded["x"] = true }, events.NodeSuspect},
		{"draining over suspect", func(n *Node) { n.Late, n.Draining = true, true }, events.NodeDraining},
		{"down over draining", func(n *Node) { n.Draining, n.Down = true, events.KindNodeHung }, events.NodeDown},
		{"stopped over down", func(n *Node) { n.Down, n.Stopped = events.KindNodeDown, true }, events.NodeStopped},
		{"quarantined over all", func(n *Node) { n.Stopped, n.Quarantine = true, &events.Quarantine{Reason: "flapping"} }, events.NodeQuarantined},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewView(10)
			v.Update("n1", t0, c.set)
			if n, _ := v.Get("n1"); n.State != c.want {
				t.Fatalf("state %s, want %s", n.State, c.want)
			}
		})
	}
}

func TestHistoryBounded(t *testing.T) {
	v := NewView(3)
	for i := range 10 {
		late := i%2 == 0
		if ch := v.Update("n1", t0.Add(time.Duration(i)*time.Second), func(n *Node) { n.Late = late }); ch == nil {
			t.Fatalf("change %d not reported", i)
		}
	}
	n, _ := v.Get("n1")
	if len(n.History) != 3 || n.History[2].At != t0.Add(9*time.Second) || n.History[2].To != events.NodeHealthy {
		t.Fatalf("history %+v", n.History)
	}
	if ch := v.Update("n1", t0, func(*Node) {}); ch != nil {
		t.Fatalf("no change reported %+v", ch)
	}
}

func TestImpact(t *testing.T) {
	v := NewView(3)
	for id, conns := range map[string]int{"a": 100, "b": 300, "c": 600} {
		v.Update(id, t0, func(n *Node) { n.Heartbeat = &events.Heartbeat{Node: id, Connections: conns} })
	}
	v.Update("z", t0, func(n *Node) { n.Stopped, n.Heartbeat = true, &events.Heartbeat{Connections: 999} })
	imp := v.Impact([]string{"b"})
	if imp.Connections != 300 || imp.Share != 0.3 || imp.Nodes != 1 || imp.FleetNodes != 3 {
		t.Fatalf("impact %+v", imp)
	}
	if all := v.Impact(nil); all.Connections != 1000 || all.Share != 1 || all.Nodes != 3 {
		t.Fatalf("fleet impact %+v", all)
	}
}
