package events

import (
	"fmt"
	"time"
)

// TypeAnomaly is the type of anomaly events, opened and resolved.
const TypeAnomaly = "io.wsheal.monitor.v1.anomaly"

func init() { register(func() Payload { return new(Anomaly) }) }

// Anomaly kinds detected by the monitor.
const (
	KindNodeDown       = "node_down"
	KindNodeHung       = "node_hung"
	KindRTTDegraded    = "rtt_degraded"
	KindStaleSpike     = "stale_spike"
	KindSlowConsumers  = "slow_consumers"
	KindErrorRate      = "error_rate"
	KindSaturation     = "saturation"
	KindReconnectStorm = "reconnect_storm"
	KindImbalance      = "imbalance"
	KindFlapping       = "flapping"
	// KindFleetSilent is the panic-threshold anomaly: most of the fleet went
	// silent at once, or the monitor lost NATS; the cause is likely NATS,
	// the network or the monitor, not every node.
	KindFleetSilent = "fleet_silent"
	// KindFleetDegraded is a shift shared by most of the fleet (RTT, stale
	// connections, errors, slow consumers, hangs): the host's, the
	// network's or NATS's, not a node's. It informs or pages; no node is
	// restarted, drained or told to reconnect for it.
	KindFleetDegraded = "fleet_degraded"
)

// Capacity anomaly kinds, on target FleetTarget: the fleet as a whole is
// too small or too large for its clients. Their remedy is a scale
// (ActionScale), never an action on one node.
const (
	// KindFleetSaturated: the connections of the active, non-draining
	// nodes stayed at or above a share of their summed capacity for a
	// window: no cooler node is left to shed clients to.
	KindFleetSaturated = "fleet_saturated"
	// KindFleetUnderused: that share stayed low for a longer window while
	// more than one node was active: one node fewer would do.
	KindFleetUnderused = "fleet_underused"
)

// Data-plane anomaly kinds, from Health.DataPlane.
const (
	// KindDataPlaneErrors: subscribes, resumes or publishes failing on the
	// server side (unavailable, internal).
	KindDataPlaneErrors = "data_plane_errors"
	// KindStoreFull: JetStream storage or the channel stream near its limit.
	KindStoreFull = "store_full"
	// KindConsumerLimit: consumers or channels near their limit.
	KindConsumerLimit = "consumer_limit"
	// KindNotRecovered: resumes answered recovered:false on the rise.
	KindNotRecovered = "not_recovered"
)

// Severities, most severe first.
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// SeverityRank orders severities: critical 4 .. info 1, unknown 0.
func SeverityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityError:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// Anomaly states.
const (
	AnomalyOpen     = "open"
	AnomalyResolved = "resolved"
)

// Impact says how much of the fleet an anomaly touches.
type Impact struct {
	Connections int     `json:"connections"` // connections on the affected nodes
	Share       float64 `json:"share"`       // of all connections in the fleet, 0..1
	Nodes       int     `json:"nodes"`
	FleetNodes  int     `json:"fleet_nodes"`
}

// Evidence is what the detector saw.
type Evidence struct {
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	WindowMS  int64   `json:"window_ms"`
	Detail    string  `json:"detail,omitempty"`
}

// Anomaly is published by the monitor on AnomalySubject(kind, target) when a
// detector fires (State open) and again when it clears (State resolved).
type Anomaly struct {
	ID          string    `json:"id"` // AnomalyID(kind, target, window)
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	Target      string    `json:"target"` // a node id or FleetTarget
	Nodes       []string  `json:"nodes,omitempty"`
	Severity    string    `json:"severity"`
	Impact      Impact    `json:"impact"`
	Evidence    Evidence  `json:"evidence"`
	Summary     string    `json:"summary"`
	ImpactStart time.Time `json:"impact_start"` // first bad sample
	DetectedAt  time.Time `json:"detected_at"`
	ResolvedAt  time.Time `json:"resolved_at,omitzero"`
}

// AnomalyID derives the deterministic id of an anomaly from its kind, its
// target and the start of the detection window, so that two monitor
// replicas that see the same fact publish the same id.
func AnomalyID(kind, target string, window time.Time) string {
	return fmt.Sprintf("%s-%s-%d", kind, target, window.Unix())
}

// EventType implements Payload.
func (*Anomaly) EventType() string { return TypeAnomaly }

// EventID implements Identified: the open and resolved events of one
// anomaly have distinct, deterministic ids.
func (a *Anomaly) EventID() string { return a.ID + ":" + a.State }

// Validate implements Payload.
func (a *Anomaly) Validate() error {
	switch {
	case a.ID == "":
		return missing("id")
	case a.Kind == "":
		return missing("kind")
	case a.Target == "":
		return missing("target")
	case a.State != AnomalyOpen && a.State != AnomalyResolved:
		return invalid("state", "%q, want open or resolved", a.State)
	case SeverityRank(a.Severity) == 0:
		return invalid("severity", "%q, want critical, error, warning or info", a.Severity)
	case a.DetectedAt.IsZero():
		return missing("detected_at")
	}
	return nil
}
