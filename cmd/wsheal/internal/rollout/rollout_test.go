package rollout

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

// TestSettled: a step is over when every node but the one removed is
// healthy and the most loaded is within the bound of the mean; small
// fleets are balanced whatever their spread.
func TestSettled(t *testing.T) {
	row := func(node, state string, conns int) events.NodeStatus {
		return events.NodeStatus{Node: node, State: state, Connections: conns}
	}
	cases := []struct {
		name  string
		nodes []events.NodeStatus
		ok    bool
	}{
		{"balanced", []events.NodeStatus{row("a", events.NodeHealthy, 100), row("b", events.NodeHealthy, 110), row("old", events.NodeDraining, 3)}, true},
		{"one node over the bound", []events.NodeStatus{row("a", events.NodeHealthy, 200), row("b", events.NodeHealthy, 20)}, false},
		{"a node not healthy", []events.NodeStatus{row("a", events.NodeHealthy, 100), row("b", events.NodeSuspect, 100)}, false},
		{"a stopped node does not count", []events.NodeStatus{row("a", events.NodeHealthy, 100), row("c", events.NodeStopped, 0)}, true},
		{"few clients", []events.NodeStatus{row("a", events.NodeHealthy, 7), row("b", events.NodeHealthy, 0)}, true},
		{"no node left", []events.NodeStatus{row("old", events.NodeHealthy, 10)}, false},
	}
	for _, tc := range cases {
		ok, spread := settled(events.FleetStatus{Nodes: tc.nodes}, "old", 1.5)
		if ok != tc.ok {
			t.Errorf("%s: settled %v (spread %.2f), want %v", tc.name, ok, spread, tc.ok)
		}
	}
	fs := events.FleetStatus{Nodes: []events.NodeStatus{row("a", events.NodeHealthy, 5), row("b", events.NodeStopped, 9)}}
	if nodeConnections(fs, "a") != 5 || nodeConnections(fs, "b") != 0 || nodeConnections(fs, "gone") != 0 || nodeState(fs, "a") != events.NodeHealthy {
		t.Errorf("node lookups of %+v", fs)
	}
}
