// Package fleet is the monitor's view of the gateway fleet: one record per
// node with what it last reported, the facts the detectors established
// (late, down, hung, degraded) and the state derived from them, with a
// bounded history of state changes.
package fleet

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Node is one gateway in the view. Fields are facts; State is derived.
type Node struct {
	ID  string
	URL string
	// ProbeURL is where the monitor probes the node (its internal URL, or URL).
	ProbeURL    string
	Version     string
	Heartbeat   *events.Heartbeat
	HeartbeatAt time.Time // the last heartbeat's event time
	HeardAt     time.Time // when this monitor received it
	Health      *events.Health
	HealthAt    time.Time // the last snapshot's event time
	HealthHeard time.Time // when this monitor received it
	Draining    bool
	Stopped     bool
	StoppedAt   time.Time
	Late        bool   // heartbeats late: suspect
	Down        string // events.KindNodeDown or KindNodeHung while open
	Degraded    map[string]bool
	Quarantine  *events.Quarantine

	State   string
	Since   time.Time
	Reason  string
	History []events.StateChange
}

// derive computes a node's state from its facts, most severe first.
func (n *Node) derive() (state, reason string) {
	switch {
	case n.Quarantine != nil:
		return events.NodeQuarantined, n.Quarantine.Reason
	case n.Stopped:
		return events.NodeStopped, "announced a clean stop"
	case n.Down != "":
		return events.NodeDown, n.Down
	case n.Draining:
		return events.NodeDraining, "draining"
	case n.Late:
		return events.NodeSuspect, "heartbeats late"
	case len(n.Degraded) > 0:
		kinds := make([]string, 0, len(n.Degraded))
		for k := range n.Degraded {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		return events.NodeDegraded, strings.Join(kinds, ",")
	}
	return events.NodeHealthy, ""
}

// Unhealthy reports whether entering state counts towards flapping.
func Unhealthy(state string) bool {
	return state == events.NodeSuspect || state == events.NodeDown || state == events.NodeDegraded
}

// Active reports whether the node counts as part of the serving fleet
// (not stopped, not quarantined).
func (n *Node) Active() bool { return !n.Stopped && n.Quarantine == nil }

// Connections is the node's last known connection count.
func (n *Node) Connections() int {
	switch {
	case n.Heartbeat != nil:
		return n.Heartbeat.Connections
	case n.Health != nil:
		return n.Health.Connections
	}
	return 0
}

// Capacity is the node's last known capacity.
func (n *Node) Capacity() int {
	switch {
	case n.Heartbeat != nil:
		return n.Heartbeat.Capacity
	case n.Health != nil:
		return n.Health.Capacity
	}
	return 0
}

// View is the fleet. Its methods are safe for concurrent use.
type View struct {
	mu         sync.RWMutex
	nodes      map[string]*Node
	historyLen int
}

// NewView returns an empty view keeping historyLen state changes per node.
func NewView(historyLen int) *View {
	return &View{nodes: map[string]*Node{}, historyLen: max(historyLen, 1)}
}

// Update applies fn to node (created if new) and re-derives its state. It
// returns the state change, if there was one.
func (v *View) Update(id string, at time.Time, fn func(*Node)) *events.StateChange {
	v.mu.Lock()
	defer v.mu.Unlock()
	n, ok := v.nodes[id]
	if !ok {
		n = &Node{ID: id, Degraded: map[string]bool{}, State: events.NodeHealthy, Since: at}
		v.nodes[id] = n
	}
	fn(n)
	state, reason := n.derive()
	n.Reason = reason
	if state == n.State {
		return nil
	}
	ch := events.StateChange{At: at.UTC(), From: n.State, To: state, Reason: reason}
	n.State, n.Since = state, at
	n.History = append(n.History, ch)
	if len(n.History) > v.historyLen {
		n.History = append([]events.StateChange(nil), n.History[len(n.History)-v.historyLen:]...)
	}
	return &ch
}

// Get returns a copy of a node.
func (v *View) Get(id string) (Node, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n, ok := v.nodes[id]
	if !ok {
		return Node{}, false
	}
	return n.clone(), true
}

func (n *Node) clone() Node {
	c := *n
	c.Degraded = make(map[string]bool, len(n.Degraded))
	for k, v := range n.Degraded {
		c.Degraded[k] = v
	}
	c.History = append([]events.StateChange(nil), n.History...)
	return c
}

// Nodes returns copies of every node, sorted by id.
func (v *View) Nodes() []Node {
	v.mu.RLock()
	out := make([]Node, 0, len(v.nodes))
	for _, n := range v.nodes {
		out = append(out, n.clone())
	}
	v.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Each calls fn for every node, in no order, under the view's read lock:
// fn must only read the node and must not call the view.
func (v *View) Each(fn func(n *Node)) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, n := range v.nodes {
		fn(n)
	}
}

// Forget drops a node.
func (v *View) Forget(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.nodes, id)
}

// Impact is the share of the fleet's connections held by nodes (every
// active node when nodes is empty).
func (v *View) Impact(nodes []string) events.Impact {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var imp events.Impact
	total := 0
	want := map[string]bool{}
	for _, id := range nodes {
		want[id] = true
	}
	for id, n := range v.nodes {
		if !n.Active() && !want[id] {
			continue
		}
		imp.FleetNodes++
		total += n.Connections()
		if len(nodes) == 0 || want[id] {
			imp.Nodes++
			imp.Connections += n.Connections()
		}
	}
	if total > 0 {
		imp.Share = float64(imp.Connections) / float64(total)
	}
	return imp
}
