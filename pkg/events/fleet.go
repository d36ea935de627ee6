package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StaleMisses is how many heartbeats a node may miss before it is stale,
// and StaleFloor the least interval they are counted in: the one
// staleness rule of the fleet (StaleAfter).
const (
	StaleMisses = 3
	StaleFloor  = time.Second
)

// StaleAfter is how long a node that beats every interval may stay
// silent before it is stale: StaleMisses heartbeats, each counted as at
// least StaleFloor (an interval of 0, not said, counts as StaleFloor).
// The floor absorbs what a fast heartbeat cannot: a pause of the node's
// process, of the reader's, or a clock skew between the two.
func StaleAfter(interval time.Duration) time.Duration {
	return StaleMisses * max(interval, StaleFloor)
}

// Registration is a gateway's entry in BucketFleet under its node id,
// rewritten every heartbeat and deleted on a clean stop; an entry not
// rewritten within StaleAfter of its interval is stale (Fresh).
type Registration struct {
	Node string `json:"node"`
	// URL is the public WebSocket URL clients use.
	URL string `json:"url"`
	// InternalURL is the node's base http(s) URL inside the deployment
	// (what the monitor probes for /healthz), when it differs from URL.
	InternalURL string    `json:"internal_url,omitempty"`
	Connections int       `json:"connections"`
	Capacity    int       `json:"capacity"` // max connections in force
	Draining    bool      `json:"draining"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	HeartbeatMS int64     `json:"heartbeat_ms"` // the node's heartbeat interval
}

// Fresh reports whether the entry was written within StaleAfter of the
// node's heartbeat interval.
func (r Registration) Fresh(now time.Time) bool {
	return now.Sub(r.UpdatedAt) <= StaleAfter(time.Duration(r.HeartbeatMS)*time.Millisecond)
}

// ErrRegistration is wrapped by DecodeRegistration's errors.
var ErrRegistration = errors.New("events: bad registration")

// DecodeRegistration reads a BucketFleet entry. Gateways write it, so the
// reader checks it: bounded size, a valid node id, no negative counts,
// URLs of scheme ws, wss, http or https only (Registration.CheckURLs with
// an allow-list of hosts checks the hosts too). Unknown fields are ignored
// (fields are only ever added).
func DecodeRegistration(b []byte) (Registration, error) {
	var r Registration
	if len(b) > MaxEventSize {
		return r, fmt.Errorf("%w: %d bytes", ErrRegistration, len(b))
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrRegistration, err)
	}
	if err := ValidateToken(r.Node); err != nil {
		return r, fmt.Errorf("%w: node: %v", ErrRegistration, err)
	}
	if r.Connections < 0 || r.Capacity < 0 || r.HeartbeatMS < 0 {
		return r, fmt.Errorf("%w: %s has negative counts", ErrRegistration, r.Node)
	}
	return r, r.CheckURLs(nil)
}
