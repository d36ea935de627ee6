// Package fleet keeps the healer's view of the gateway fleet: which nodes
// exist, how many connections each holds, whether each is draining, and
// when each was last heard from. It reads the fleet through the shared
// read model (fleetview: the registry and the heartbeats, checked) and
// judges it by the fleet's one staleness rule: a node is healthy while
// heard within events.StaleAfter of its heartbeat interval (three missed
// heartbeats, each at least one second), on the healer's clock.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/fleetview"
)

// ErrWatch is returned when the heartbeats cannot be followed.
var ErrWatch = errors.New("fleet: watch")

// Node is what the healer knows of one gateway node.
type Node struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Connections int       `json:"connections"`
	Capacity    int       `json:"capacity"`
	Draining    bool      `json:"draining"`
	StartedAt   time.Time `json:"started_at"`
	// Boot is the process id drawn by the node at start (heartbeats carry
	// it; registry entries do not, so it is kept across them).
	Boot     string    `json:"boot,omitempty"`
	LastSeen time.Time `json:"last_seen"`
	// Healthy: heard from within the staleness window.
	Healthy bool `json:"healthy"`
}

// Identity names the node's process: its Boot, or, from a gateway that
// sends none, its start time. A restart changes it; a thawed old process
// does not.
func (n Node) Identity() string {
	if n.Boot != "" {
		return n.Boot
	}
	if n.StartedAt.IsZero() {
		return ""
	}
	return started(n.StartedAt)
}

func started(at time.Time) string { return "started " + at.UTC().Format(time.RFC3339Nano) }

// Runs reports whether the node's process is the one named identity: the
// same boot id, or, for an identity taken before a boot id was heard (a
// registry entry read first), the same start time.
func (n Node) Runs(identity string) bool {
	return identity != "" && (identity == n.Identity() || !n.StartedAt.IsZero() && identity == started(n.StartedAt))
}

// Accepting is a healthy node that is not draining.
func (n Node) Accepting() bool { return n.Healthy && !n.Draining }

// Config tunes a View.
type Config struct {
	// Hosts is the allow-list of the hosts a node's URL may name; a
	// heartbeat or registration naming another is not believed.
	Hosts events.Hosts
	// Forget: a node silent this long leaves the view.
	Forget time.Duration
	// Now is the healer's clock: heartbeats are stamped with it and
	// snapshots are taken at its time; time.Now when nil.
	Now func() time.Time
}

// View is the fleet as heard over NATS. Nodes that went silent stay in the
// view (unhealthy) until forgotten, so that a dead node still counts as
// part of the fleet for the panic threshold and the blast-radius cap.
type View struct {
	view *fleetview.View
}

// New returns an empty view.
func New(cfg Config, log zerolog.Logger) *View {
	return &View{view: fleetview.New(fleetview.Config{Hosts: cfg.Hosts, Forget: cfg.Forget, Now: cfg.Now},
		log.With().Str("component", "fleet").Logger())}
}

// Run follows heartbeats and the registry until ctx ends.
func (v *View) Run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	sub, err := v.view.FollowHeartbeats(nc)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWatch, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	return v.view.Run(ctx, js)
}

// Synced is closed once the registry's entries are in the view: every
// live node rewrites its entry every heartbeat, so the view then knows
// the live fleet.
func (v *View) Synced() <-chan struct{} { return v.view.Synced() }

// Observe records a sign of life of n at seen; older news never
// overwrites newer.
func (v *View) Observe(n Node, seen time.Time) {
	v.view.Observe(fleetview.Node{ID: n.ID, URL: n.URL, Connections: n.Connections, Capacity: n.Capacity,
		Draining: n.Draining, StartedAt: n.StartedAt, Boot: n.Boot, Heard: seen})
}

// Forget drops a node that left the fleet cleanly.
func (v *View) Forget(id string) { v.view.Remove(id) }

// Snapshot returns every node known, sorted by id, with Healthy set as of now.
func (v *View) Snapshot(now time.Time) []Node {
	nodes := v.view.Nodes(now)
	out := make([]Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, node(n, now))
	}
	return out
}

func node(n fleetview.Node, now time.Time) Node {
	return Node{ID: n.ID, URL: n.URL, Connections: n.Connections, Capacity: n.Capacity, Draining: n.Draining,
		StartedAt: n.StartedAt, Boot: n.Boot, LastSeen: n.Heard, Healthy: n.Fresh(now)}
}

// Get returns one node as of now.
func (v *View) Get(id string, now time.Time) (Node, bool) {
	for _, n := range v.Snapshot(now) {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

// Share summarizes a snapshot for the safety checks.
type Share struct {
	Nodes     int // known nodes
	Unhealthy int // silent beyond the staleness window
	Out       int // unhealthy or draining
	Accepting int // healthy and not draining
}

// Count summarizes nodes.
func Count(nodes []Node) Share {
	s := Share{Nodes: len(nodes)}
	for _, n := range nodes {
		if !n.Healthy {
			s.Unhealthy++
		}
		if !n.Accepting() {
			s.Out++
		} else {
			s.Accepting++
		}
	}
	return s
}

// UnhealthyShare is the share of known nodes that are silent, 0 when none known.
func (s Share) UnhealthyShare() float64 {
	if s.Nodes == 0 {
		return 0
	}
	return float64(s.Unhealthy) / float64(s.Nodes)
}

// Balance returns max/mean of connections over accepting nodes, and the
// mean; 1 when fewer than two nodes accept or none holds a connection.
func Balance(nodes []Node) (ratio, mean float64) {
	total, most, n := 0, 0, 0
	for _, x := range nodes {
		if !x.Accepting() {
			continue
		}
		n++
		total += x.Connections
		most = max(most, x.Connections)
	}
	if n < 2 || total == 0 {
		return 1, float64(total) / float64(max(n, 1))
	}
	mean = float64(total) / float64(n)
	return float64(most) / mean, mean
}
