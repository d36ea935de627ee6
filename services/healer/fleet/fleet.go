// Package fleet keeps the healer's view of the gateway fleet: which nodes
// exist, how many connections each holds, whether each is draining, and
// when each was last heard from (heartbeats and the fleet registry).
package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrWatch is returned when the fleet registry cannot be watched.
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

// View is the fleet as heard over NATS. Nodes that went silent stay in the
// view (unhealthy) until forgotten, so that a dead node still counts as
// part of the fleet for the panic threshold and the blast-radius cap.
type View struct {
	stale  time.Duration
	forget time.Duration
	log    zerolog.Logger
	// Hosts, when set, is the allow-list of the hosts a node's URL may
	// name; a heartbeat or registration naming another is not believed.
	Hosts events.Hosts

	mu    sync.Mutex
	nodes map[string]*Node
}

// New returns an empty view: a node is healthy when heard from within
// stale, and forgotten after forget of silence.
func New(stale, forget time.Duration, log zerolog.Logger) *View {
	return &View{stale: stale, forget: forget, log: log.With().Str("component", "fleet").Logger(), nodes: map[string]*Node{}}
}

// Run follows heartbeats and the registry until ctx ends.
func (v *View) Run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	sub, err := nc.Subscribe(events.HeartbeatsAll, func(m *nats.Msg) { v.heartbeat(m.Subject, m.Data) })
	if err != nil {
		return fmt.Errorf("%w: heartbeats: %w", ErrWatch, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	kv, err := js.KeyValue(ctx, events.BucketFleet)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrWatch, events.BucketFleet, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrWatch, events.BucketFleet, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			switch {
			case e == nil:
			case e.Operation() == jetstream.KeyValuePut:
				v.registration(e.Key(), e.Value(), e.Created())
			case e.Created().After(time.Now().Add(-v.stale)):
				// A fresh delete is a clean stop: the node left the fleet.
				v.Forget(e.Key())
			}
		}
	}
}

// heartbeat believes a heartbeat only on its own node's subject (NATS
// permissions let a gateway publish there alone) and with allowed URLs.
func (v *View) heartbeat(subject string, b []byte) {
	ev, err := events.Decode(b)
	if err != nil {
		v.log.Debug().Err(err).Msg("heartbeat ignored")
		return
	}
	hb, ok := events.As[*events.Heartbeat](ev)
	if !ok || events.ValidateToken(hb.Node) != nil || events.HeartbeatSubject(hb.Node) != subject {
		v.log.Debug().Str("subject", subject).Msg("heartbeat on another node's subject ignored")
		return
	}
	if err := (events.Registration{Node: hb.Node, URL: hb.URL, InternalURL: hb.InternalURL}).CheckURLs(v.Hosts); err != nil {
		v.log.Warn().Err(err).Str("node", hb.Node).Msg("heartbeat ignored")
		return
	}
	v.Observe(Node{ID: hb.Node, URL: hb.URL, Connections: hb.Connections, Capacity: hb.Capacity,
		Draining: hb.Draining, StartedAt: hb.StartedAt, Boot: hb.Boot}, time.Now())
}

// registration believes an entry only under its own node's key and with
// allowed URLs.
func (v *View) registration(key string, b []byte, at time.Time) {
	r, err := events.DecodeRegistration(b)
	if err == nil && r.Node != key {
		err = fmt.Errorf("%w: node %q under key %q", events.ErrRegistration, r.Node, key)
	}
	if err == nil {
		err = r.CheckURLs(v.Hosts)
	}
	if err != nil {
		v.log.Warn().Err(err).Str("key", key).Msg("registration ignored")
		return
	}
	// A registry entry is written by the node itself, so it is a sign of
	// life as of when it was written.
	seen := at
	if !r.UpdatedAt.IsZero() && r.UpdatedAt.Before(seen) {
		seen = r.UpdatedAt
	}
	v.Observe(Node{ID: r.Node, URL: r.URL, Connections: r.Connections, Capacity: r.Capacity,
		Draining: r.Draining, StartedAt: r.StartedAt}, seen)
}

// Observe records a sign of life of n at seen; older news never
// overwrites newer.
func (v *View) Observe(n Node, seen time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur, ok := v.nodes[n.ID]
	if ok && cur.LastSeen.After(seen) {
		return
	}
	if ok && n.Boot == "" && n.StartedAt.Equal(cur.StartedAt) {
		n.Boot = cur.Boot // a registry entry of the same process
	}
	n.LastSeen = seen
	v.nodes[n.ID] = &n
}

// Forget drops a node that left the fleet cleanly.
func (v *View) Forget(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.nodes, id)
}

// Snapshot returns every node known, sorted by id, with Healthy set as of now.
func (v *View) Snapshot(now time.Time) []Node {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Node, 0, len(v.nodes))
	for id, n := range v.nodes {
		age := now.Sub(n.LastSeen)
		if age > v.forget {
			delete(v.nodes, id)
			continue
		}
		c := *n
		c.Healthy = age <= v.stale
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
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
