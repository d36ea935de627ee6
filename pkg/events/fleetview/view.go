package fleetview

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// Config tunes a View.
type Config struct {
	// Hosts is the allow-list of the hosts a node's URLs may name (empty:
	// any).
	Hosts events.Hosts
	// Forget: a node silent this long leaves the view (Nodes drops it);
	// zero keeps it until its key is deleted.
	Forget time.Duration
	// Now stamps the heartbeats' arrival; time.Now when nil. A reader with
	// an injected clock passes it, so that Fresh(now) of its clock holds
	// for a node that beats.
	Now func() time.Time
}

// View is the fleet as heard over NATS: the registry, and the heartbeats
// when the reader follows them (FollowHeartbeats).
type View struct {
	cfg Config
	log zerolog.Logger

	mu     sync.RWMutex
	nodes  map[string]Node
	synced chan struct{}
	once   sync.Once
}

// New returns an empty view.
func New(cfg Config, log zerolog.Logger) *View {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &View{cfg: cfg, log: log.With().Str("component", "fleetview").Logger(),
		nodes: map[string]Node{}, synced: make(chan struct{})}
}

// Run follows the registry (events.BucketFleet) until ctx ends.
func (v *View) Run(ctx context.Context, js jetstream.JetStream) error {
	w := service.KVWatch{Apply: v.Apply, Synced: func() { v.once.Do(func() { close(v.synced) }) }}
	return service.WatchBucket(ctx, js, events.BucketFleet, w, v.log)
}

// Synced is closed once the registry's entries of Run's first watch are
// all in the view.
func (v *View) Synced() <-chan struct{} { return v.synced }

// FollowHeartbeats adds every gateway heartbeat nc receives to the view,
// until the subscription returned is unsubscribed.
func (v *View) FollowHeartbeats(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(events.HeartbeatsAll, func(m *nats.Msg) { v.Heartbeat(m.Subject, m.Data) })
	if err != nil {
		return nil, fmt.Errorf("fleetview: heartbeats: %w", err)
	}
	return sub, nil
}

// Heartbeat adds a heartbeat received on subject, if DecodeHeartbeat
// believes it.
func (v *View) Heartbeat(subject string, b []byte) {
	hb, err := DecodeHeartbeat(subject, b, v.cfg.Hosts)
	if err != nil {
		v.log.Debug().Err(err).Str("subject", subject).Msg("heartbeat ignored")
		return
	}
	v.Observe(FromHeartbeat(hb, v.cfg.Now()))
}

// Apply takes one change of the registry: a put that Decode believes is
// observed; one it does not removes the node; a delete or purge removes
// it unless it was heard after the change.
func (v *View) Apply(e jetstream.KeyValueEntry) {
	key := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		v.mu.Lock()
		if n, ok := v.nodes[key]; ok && !n.Heard.After(e.Created()) {
			delete(v.nodes, key)
		}
		v.mu.Unlock()
		return
	}
	r, err := Decode(key, e.Value(), v.cfg.Hosts)
	if err != nil {
		v.Remove(key)
		v.log.Warn().Err(err).Str("key", key).Msg("registration ignored")
		return
	}
	v.Observe(FromRegistration(r, e.Created()))
}

// Observe records n as heard at n.Heard; it reports false, changing
// nothing, when the view heard of the node later.
func (v *View) Observe(n Node) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur, ok := v.nodes[n.ID]
	if ok && cur.Heard.After(n.Heard) {
		return false
	}
	if ok && n.Boot == "" && n.StartedAt.Equal(cur.StartedAt) {
		n.Boot = cur.Boot // a registry entry of the same process
	}
	v.nodes[n.ID] = n
	return true
}

// Remove drops a node (it left the fleet cleanly, or its entry is not
// believed).
func (v *View) Remove(id string) {
	v.mu.Lock()
	delete(v.nodes, id)
	v.mu.Unlock()
}

// Get returns a node.
func (v *View) Get(id string) (Node, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n, ok := v.nodes[id]
	return n, ok
}

// Nodes returns every node known at now, sorted by id; a node silent for
// longer than Config.Forget leaves the view.
func (v *View) Nodes(now time.Time) []Node {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Node, 0, len(v.nodes))
	for id, n := range v.nodes {
		if v.cfg.Forget > 0 && now.Sub(n.Heard) > v.cfg.Forget {
			delete(v.nodes, id)
			continue
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return out
}
