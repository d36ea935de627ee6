package events

import "time"

// Gateway event types.
const (
	TypeHeartbeat = "io.wsheal.gateway.v1.heartbeat"
	TypeHealth    = "io.wsheal.gateway.v1.health"
	TypeConnEvent = "io.wsheal.gateway.v1.conn"
	TypeLifecycle = "io.wsheal.gateway.v1.lifecycle"
)

func init() {
	register(func() Payload { return new(Heartbeat) })
	register(func() Payload { return new(Health) })
	register(func() Payload { return new(ConnEvent) })
	register(func() Payload { return new(Lifecycle) })
}

// Heartbeat is published by every gateway node every heartbeat interval
// (default 1 s) on HeartbeatSubject(node).
type Heartbeat struct {
	Node string `json:"node"`
	URL  string `json:"url"` // public WebSocket URL clients connect to
	// InternalURL is the node's base http(s) URL inside the deployment,
	// where the monitor probes /healthz (empty: derive it from URL).
	InternalURL string    `json:"internal_url,omitempty"`
	Seq         uint64    `json:"seq"` // increases by one per heartbeat of this process
	Connections int       `json:"connections"`
	Capacity    int       `json:"capacity"`
	Draining    bool      `json:"draining"`
	StartedAt   time.Time `json:"started_at"`
	UptimeMS    int64     `json:"uptime_ms"`
	IntervalMS  int64     `json:"interval_ms"` // the node's heartbeat interval
	PID         int       `json:"pid,omitempty"`
	Version     string    `json:"version"`
	// Boot identifies this process of the node: a random id drawn at
	// start, so a restart is told from a thawed old process.
	Boot string `json:"boot,omitempty"`
}

// EventType implements Payload.
func (*Heartbeat) EventType() string { return TypeHeartbeat }

// Validate implements Payload.
func (h *Heartbeat) Validate() error {
	switch {
	case h.Node == "":
		return missing("node")
	case h.URL == "":
		return missing("url")
	case h.IntervalMS <= 0:
		return invalid("interval_ms", "must be positive")
	case h.Connections < 0 || h.Capacity < 0:
		return invalid("connections", "negative")
	}
	return nil
}

// Close causes counted in health snapshots and Prometheus metrics.
const (
	CauseClient  = "client"  // the client closed
	CauseStale   = "stale"   // missed its pong deadline
	CauseIdle    = "idle"    // no subscription and no traffic past the idle timeout
	CauseSlow    = "slow"    // send queue full: slow consumer
	CauseDrained = "drained" // moved away by drain, rebalance or reconnect command
	CauseError   = "error"   // protocol, auth or I/O error
)

// RTT holds round-trip quantiles in milliseconds.
type RTT struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	// Samples is how many pongs the quantiles were computed from.
	Samples int `json:"samples"`
}

// Health is a node's snapshot, published every health interval (default 5 s)
// on HealthSubject(node). Counters are per interval unless named total.
type Health struct {
	Node          string         `json:"node"`
	IntervalMS    int64          `json:"interval_ms"`
	Connections   int            `json:"connections"`
	Capacity      int            `json:"capacity"`
	Draining      bool           `json:"draining"`
	Opened        int            `json:"opened"`
	Closed        map[string]int `json:"closed"`      // by cause
	Rejected      int            `json:"rejected"`    // upgrades refused by admission
	AcceptRate    float64        `json:"accept_rate"` // accepted upgrades per second
	AcceptLimit   float64        `json:"accept_limit"`
	RTT           RTT            `json:"rtt"`
	Stale         int            `json:"stale"`
	Evicted       int            `json:"evicted"`
	SendBacklog   int            `json:"send_backlog"` // queued frames across connections
	SlowConsumers int            `json:"slow_consumers"`
	MsgsIn        int            `json:"msgs_in"`
	MsgsOut       int            `json:"msgs_out"`
	Errors        int            `json:"errors"`
	Channels      int            `json:"channels"`
	HeapBytes     uint64         `json:"heap_bytes"`
	Goroutines    int            `json:"goroutines"`
	// DataPlane is the node's channel-traffic health.
	DataPlane DataPlane `json:"data_plane"`
	// Ends are the connections that ended in the interval, by close cause.
	Ends map[string]ConnEnds `json:"ends,omitempty"`
}

// EventType implements Payload.
func (*Health) EventType() string { return TypeHealth }

// Validate implements Payload.
func (h *Health) Validate() error {
	switch {
	case h.Node == "":
		return missing("node")
	case h.IntervalMS <= 0:
		return invalid("interval_ms", "must be positive")
	}
	return nil
}

// Connection event kinds.
const (
	ConnStale        = "stale_close"
	ConnSlowConsumer = "slow_consumer"
	ConnAuthFailure  = "auth_failure"
	ConnRateLimited  = "rate_limited"
	ConnProtocol     = "protocol_error"
)

// ConnEvent is a notable connection event. Gateways rate-limit them; when
// some were suppressed, Suppressed says how many since the last one sent.
type ConnEvent struct {
	Node       string `json:"node"`
	Kind       string `json:"kind"`
	ConnID     string `json:"conn_id,omitempty"`
	Remote     string `json:"remote,omitempty"`
	Detail     string `json:"detail,omitempty"`
	Suppressed int    `json:"suppressed,omitempty"`
}

// EventType implements Payload.
func (*ConnEvent) EventType() string { return TypeConnEvent }

// Validate implements Payload.
func (c *ConnEvent) Validate() error {
	switch {
	case c.Node == "":
		return missing("node")
	case c.Kind == "":
		return missing("kind")
	}
	return nil
}

// Lifecycle phases. A node that stops cleanly announces LifecycleStopping
// before it goes, which tells a clean shutdown from a crash or a hang.
const (
	LifecycleStarted   = "started"
	LifecycleDraining  = "draining"  // progress: Remaining connections
	LifecycleDrained   = "drained"   // no connections left
	LifecycleUndrained = "undrained" // accepting again
	LifecycleStopping  = "stopping"
)

// Lifecycle is a gateway's start, drain progress and clean stop.
type Lifecycle struct {
	Node      string `json:"node"`
	Phase     string `json:"phase"`
	Reason    string `json:"reason,omitempty"`
	Remaining int    `json:"remaining"`
	Moved     int    `json:"moved"`
	URL       string `json:"url,omitempty"`
}

// EventType implements Payload.
func (*Lifecycle) EventType() string { return TypeLifecycle }

// Validate implements Payload.
func (l *Lifecycle) Validate() error {
	switch {
	case l.Node == "":
		return missing("node")
	case l.Phase == "":
		return missing("phase")
	}
	return nil
}
