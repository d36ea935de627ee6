package client

import (
	"fmt"
	"time"
)

// Kind is a client state.
type Kind int

// States. A client goes Connecting -> Connected -> Disconnected ->
// Reconnecting -> Connecting ... and ends in Closed.
const (
	Connecting Kind = iota + 1
	Connected
	Disconnected
	Reconnecting
	Closed
)

var kindNames = map[Kind]string{
	Connecting:   "connecting",
	Connected:    "connected",
	Disconnected: "disconnected",
	Reconnecting: "reconnecting",
	Closed:       "closed",
}

// String is the lower-case name of the state.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// State is one state change, delivered to Config.OnState.
type State struct {
	Kind Kind
	Time time.Time
	// URL: the gateway being dialed (Connecting) or connected (Connected).
	URL string
	// Node and Session: from the gateway's hello (Connected).
	Node    string
	Session string
	// Err: why the connection ended (Disconnected), why a connect failed
	// (Reconnecting), or why the client stopped (Closed; nil after Close).
	Err error
	// Code: the close code received from the server, if any (Disconnected).
	Code int
	// Attempt and Delay: the reconnect attempt (1-based; 0 when the
	// server asked for the reconnect with a hint) and the sleep before it
	// (Reconnecting). Hinted: the delay and URL came from the server's
	// reconnect frame rather than the backoff. A 503 with Retry-After
	// (admission control) lengthens the delay to at least Retry-After.
	Attempt int
	Delay   time.Duration
	Hinted  bool
}

// String renders the state for logs.
func (s State) String() string {
	switch s.Kind {
	case Connecting:
		return "connecting to " + s.URL
	case Connected:
		return fmt.Sprintf("connected to %s (node %s)", s.URL, s.Node)
	case Disconnected:
		return fmt.Sprintf("disconnected (code %d): %v", s.Code, s.Err)
	case Reconnecting:
		return fmt.Sprintf("reconnecting: attempt %d in %v (hinted %t)", s.Attempt, s.Delay, s.Hinted)
	case Closed:
		return fmt.Sprintf("closed: %v", s.Err)
	}
	return s.Kind.String()
}

func (c *Client) emit(s State) {
	s.Time = time.Now()
	ev := c.log.Debug()
	if s.Kind == Disconnected || s.Kind == Closed && s.Err != nil {
		ev = c.log.Info()
	}
	ev.Str("state", s.Kind.String()).Str("url", s.URL).Int("attempt", s.Attempt).
		Dur("delay", s.Delay).Int("code", s.Code).AnErr("cause", s.Err).Msg("client state")
	if c.cfg.OnState != nil {
		c.cfg.OnState(s)
	}
}
