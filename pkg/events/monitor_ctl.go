package events

import "time"

// Monitor control verbs, under ControlGroup(ServiceMonitor). status is
// VerbStatus, answered with FleetStatus (request FleetStatusRequest).
const (
	// VerbMonitorNode returns one node's detail and recent history
	// (NodeRequest -> NodeDetail).
	VerbMonitorNode = "node"
	// VerbMonitorAnomalies lists the open anomalies
	// (AnomaliesRequest -> AnomalyList).
	VerbMonitorAnomalies = "anomalies"
)

// Node states of the monitor's fleet view, as shown by status.
const (
	NodeHealthy = "healthy"
	// NodeDegraded: a node-level detector (RTT, stale, slow consumers,
	// errors, saturation) has an open anomaly on the node.
	NodeDegraded = "degraded"
	// NodeSuspect: heartbeats are late, not yet long enough for down.
	NodeSuspect = "suspect"
	// NodeDown: node_down or node_hung is open on the node.
	NodeDown = "down"
	// NodeDraining: the node announced draining (heartbeat or lifecycle).
	NodeDraining = "draining"
	// NodeQuarantined: the healer fenced the node (see QuarantineKey).
	NodeQuarantined = "quarantined"
	// NodeStopped: the node announced a clean stop (LifecycleStopping).
	NodeStopped = "stopped"
)

// QuarantineKeyPrefix starts the quarantine keys in BucketDesired.
const QuarantineKeyPrefix = "quarantine."

// QuarantineKey is the BucketDesired key that fences a node: while the key
// exists (value: Quarantine) the monitor shows the node as quarantined and
// raises no further anomalies for it; deleting the key lifts it. The healer
// writes it. Node ids hold no '.', so the key never collides with the
// per-node desired settings stored under the bare node id.
func QuarantineKey(node string) string { return QuarantineKeyPrefix + node }

// Quarantine is the value under QuarantineKey(node).
type Quarantine struct {
	Node      string    `json:"node"`
	Reason    string    `json:"reason,omitempty"`
	AnomalyID string    `json:"anomaly_id,omitempty"`
	By        string    `json:"by,omitempty"`
	Since     time.Time `json:"since"`
}

// FleetStatusRequest asks the monitor for its fleet table.
type FleetStatusRequest struct {
	State string `json:"state,omitempty"` // only nodes in this state
}

// Validate implements Command.
func (r *FleetStatusRequest) Validate() error {
	switch r.State {
	case "", NodeHealthy, NodeDegraded, NodeSuspect, NodeDown, NodeDraining, NodeQuarantined, NodeStopped:
		return nil
	}
	return invalid("state", "%q is not a node state", r.State)
}

// NodeStatus is one row of the fleet table.
type NodeStatus struct {
	Node          string    `json:"node"`
	URL           string    `json:"url,omitempty"`
	State         string    `json:"state"`
	Since         time.Time `json:"since"` // in this state since
	Reason        string    `json:"reason,omitempty"`
	Connections   int       `json:"connections"`
	Capacity      int       `json:"capacity"`
	RTTP99        float64   `json:"rtt_p99_ms"`
	Stale         int       `json:"stale"` // stale closes in the last health interval
	Draining      bool      `json:"draining"`
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	Version       string    `json:"version,omitempty"`
	OpenAnomalies int       `json:"open_anomalies"`
}

// FleetStatus is the monitor's reply to status.
type FleetStatus struct {
	Instance      string         `json:"instance"`
	At            time.Time      `json:"at"`
	Panic         bool           `json:"panic"` // fleet_silent is open: node states are held
	Connected     bool           `json:"connected"`
	Nodes         []NodeStatus   `json:"nodes"`
	ByState       map[string]int `json:"by_state"`
	Connections   int            `json:"connections"`
	Capacity      int            `json:"capacity"`
	OpenAnomalies int            `json:"open_anomalies"`
}

// NodeRequest asks for one node's detail.
type NodeRequest struct {
	Node    string `json:"node"`
	History int    `json:"history,omitempty"` // at most this many state changes (default all kept)
}

// Validate implements Command.
func (r *NodeRequest) Validate() error {
	if r.Node == "" {
		return missing("node")
	}
	if err := ValidateToken(r.Node); err != nil {
		return invalid("node", "%v", err)
	}
	if r.History < 0 {
		return invalid("history", "negative")
	}
	return nil
}

// StateChange is one transition of a node in the fleet view.
type StateChange struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// NodeDetail is the reply to node.
type NodeDetail struct {
	Status     NodeStatus    `json:"status"`
	Heartbeat  *Heartbeat    `json:"heartbeat,omitempty"` // the last one received
	Health     *Health       `json:"health,omitempty"`    // the last snapshot received
	HealthAt   time.Time     `json:"health_at,omitzero"`
	History    []StateChange `json:"history"` // oldest first
	Anomalies  []Anomaly     `json:"anomalies"`
	Quarantine *Quarantine   `json:"quarantine,omitempty"`
}

// AnomaliesRequest filters the open anomalies.
type AnomaliesRequest struct {
	Kind   string `json:"kind,omitempty"`
	Target string `json:"target,omitempty"`
}

// Validate implements Command.
func (r *AnomaliesRequest) Validate() error {
	if r.Kind != "" && ValidateToken(r.Kind) != nil {
		return invalid("kind", "%q is not a kind", r.Kind)
	}
	if r.Target != "" && ValidateToken(r.Target) != nil {
		return invalid("target", "%q is not a node id", r.Target)
	}
	return nil
}

// AnomalyList is the reply to anomalies, oldest impact first.
type AnomalyList struct {
	Anomalies []Anomaly `json:"anomalies"`
	// Correlation is the rule that tells a node's trouble from the
	// fleet's, and the node verdicts it holds now.
	Correlation *Correlation `json:"correlation,omitempty"`
}

// Correlation is the monitor's fleet correlation rule: a correlated kind
// on more than Share of the active nodes (and on at least MinNodes) is a
// fleet_degraded anomaly, and node verdicts of that kind are held.
type Correlation struct {
	Share      float64       `json:"share"`
	MinNodes   int           `json:"min_nodes"`
	ClearAfter int           `json:"clear_after_rounds"`
	Kinds      []string      `json:"kinds"`
	Held       []HeldVerdict `json:"held,omitempty"`
}

// HeldVerdict is a node anomaly held back because the fleet shares it.
type HeldVerdict struct {
	Kind  string    `json:"kind"`
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}
