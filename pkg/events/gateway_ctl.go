package events

import "time"

// Gateway control verbs, under GatewayControlGroup(node).
const (
	VerbReconnect = "reconnect"
	VerbResize    = "resize"
	VerbDrain     = "drain"
	VerbUndrain   = "undrain"
)

// Reconnect selectors.
const (
	SelectStale = "stale" // connections whose last pong is late
	SelectIdle  = "idle"  // connections past the idle timeout
	SelectAll   = "all"   // every connection (limited by Count or Fraction)
	SelectIDs   = "ids"   // the connections named in IDs
)

// GatewayStatusRequest asks a node for its summary and, optionally, a
// filtered list of its connections.
type GatewayStatusRequest struct {
	Conns  bool   `json:"conns,omitempty"`  // include connections
	Select string `json:"select,omitempty"` // stale, idle or all (default all)
	Limit  int    `json:"limit,omitempty"`  // at most this many (default 100)
}

// Validate implements Command.
func (r *GatewayStatusRequest) Validate() error {
	switch r.Select {
	case "", SelectAll, SelectStale, SelectIdle:
	default:
		return invalid("select", "%q, want all, stale or idle", r.Select)
	}
	if r.Limit < 0 {
		return invalid("limit", "negative")
	}
	return nil
}

// Settings are a node's tunable limits, kept as desired state in the
// desired-state KV bucket so a restarted node keeps them.
type Settings struct {
	MaxConns       int     `json:"max_conns"`
	AcceptRate     float64 `json:"accept_rate"` // upgrades per second
	AcceptBurst    int     `json:"accept_burst"`
	PingIntervalMS int64   `json:"ping_interval_ms"`
	PongDeadlineMS int64   `json:"pong_deadline_ms"`
	IdleTimeoutMS  int64   `json:"idle_timeout_ms"`
}

// ConnInfo describes one client connection.
type ConnInfo struct {
	ID       string  `json:"id"`
	Remote   string  `json:"remote"`
	AgeMS    int64   `json:"age_ms"`
	IdleMS   int64   `json:"idle_ms"`
	RTTMS    float64 `json:"rtt_ms"`
	Channels int     `json:"channels"`
	Backlog  int     `json:"backlog"`
	Stale    bool    `json:"stale"`
}

// GatewayStatus is a node's reply to status.
type GatewayStatus struct {
	Node        string     `json:"node"`
	URL         string     `json:"url"`
	Version     string     `json:"version"`
	StartedAt   time.Time  `json:"started_at"`
	Connections int        `json:"connections"`
	Draining    bool       `json:"draining"`
	Settings    Settings   `json:"settings"`
	Channels    int        `json:"channels"`
	RTT         RTT        `json:"rtt"`
	Conns       []ConnInfo `json:"conns,omitempty"`
}

// ReconnectCommand asks a node to send some of its clients elsewhere,
// paced over OverMS. Select is required: an empty selection never means
// "everything".
type ReconnectCommand struct {
	ID       string   `json:"id"`
	Select   string   `json:"select"`
	IDs      []string `json:"ids,omitempty"`
	Count    int      `json:"count,omitempty"`    // at most this many
	Fraction float64  `json:"fraction,omitempty"` // at most this share, 0..1
	Target   string   `json:"target,omitempty"`   // node id to hint clients to
	OverMS   int64    `json:"over_ms,omitempty"`  // spread hints over this long
}

// Validate implements Command.
func (c *ReconnectCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	switch c.Select {
	case SelectStale, SelectIdle, SelectAll:
	case SelectIDs:
		if len(c.IDs) == 0 {
			return missing("ids")
		}
	case "":
		return missing("select")
	default:
		return invalid("select", "%q, want stale, idle, all or ids", c.Select)
	}
	switch {
	case c.Count < 0:
		return invalid("count", "negative")
	case c.Fraction < 0 || c.Fraction > 1:
		return invalid("fraction", "%v, want 0..1", c.Fraction)
	case c.OverMS < 0 || c.OverMS > int64(10*time.Minute/time.Millisecond):
		return invalid("over_ms", "%d, want 0..600000", c.OverMS)
	case c.Target != "" && ValidateToken(c.Target) != nil:
		return invalid("target", "%q is not a node id", c.Target)
	}
	return nil
}

// ReconnectReply says how many clients were selected.
type ReconnectReply struct {
	Selected int   `json:"selected"`
	OverMS   int64 `json:"over_ms"`
}

// ResizeCommand changes a node's limits; fields left out are unchanged,
// Reset restores the configured defaults.
type ResizeCommand struct {
	ID             string   `json:"id"`
	MaxConns       *int     `json:"max_conns,omitempty"`
	AcceptRate     *float64 `json:"accept_rate,omitempty"`
	AcceptBurst    *int     `json:"accept_burst,omitempty"`
	PingIntervalMS *int64   `json:"ping_interval_ms,omitempty"`
	PongDeadlineMS *int64   `json:"pong_deadline_ms,omitempty"`
	IdleTimeoutMS  *int64   `json:"idle_timeout_ms,omitempty"`
	Reset          bool     `json:"reset,omitempty"`
}

// Validate implements Command.
func (c *ResizeCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	if !c.Reset && c.MaxConns == nil && c.AcceptRate == nil && c.AcceptBurst == nil &&
		c.PingIntervalMS == nil && c.PongDeadlineMS == nil && c.IdleTimeoutMS == nil {
		return invalid("resize", "nothing to change: give a limit or reset")
	}
	switch {
	case c.MaxConns != nil && *c.MaxConns < 0:
		return invalid("max_conns", "negative")
	case c.AcceptRate != nil && *c.AcceptRate <= 0:
		return invalid("accept_rate", "must be positive")
	case c.AcceptBurst != nil && *c.AcceptBurst <= 0:
		return invalid("accept_burst", "must be positive")
	case c.PingIntervalMS != nil && *c.PingIntervalMS < 100:
		return invalid("ping_interval_ms", "at least 100")
	case c.PongDeadlineMS != nil && *c.PongDeadlineMS < 100:
		return invalid("pong_deadline_ms", "at least 100")
	case c.IdleTimeoutMS != nil && *c.IdleTimeoutMS < 0:
		return invalid("idle_timeout_ms", "negative")
	}
	return nil
}

// DrainCommand stops a node accepting and moves its clients to other
// nodes with reconnect hints spread over OverMS (default 10 s).
type DrainCommand struct {
	ID     string `json:"id"`
	OverMS int64  `json:"over_ms,omitempty"`
	Target string `json:"target,omitempty"` // prefer this node for the hints
	Reason string `json:"reason,omitempty"`
}

// Validate implements Command.
func (c *DrainCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	switch {
	case c.OverMS < 0 || c.OverMS > int64(10*time.Minute/time.Millisecond):
		return invalid("over_ms", "%d, want 0..600000", c.OverMS)
	case c.Target != "" && ValidateToken(c.Target) != nil:
		return invalid("target", "%q is not a node id", c.Target)
	}
	return nil
}

// DrainReply reports a drain's start.
type DrainReply struct {
	Connections int   `json:"connections"`
	OverMS      int64 `json:"over_ms"`
}

// UndrainCommand makes a node accept again. The reply is the node's
// GatewayStatus after the change.
type UndrainCommand struct {
	ID string `json:"id"`
}

// Validate implements Command.
func (c *UndrainCommand) Validate() error { return NeedID(c.ID) }
