// Package fleet is the gateway registry in the NATS KV bucket
// events.BucketFleet: every node writes its Registration under its node id
// every heartbeat, and every node follows the bucket through the shared
// read model (fleetview) to know where clients can go (/v1/connect, drain
// and reconnect hints). A node is a candidate while fresh by the fleet's
// one staleness rule (events.StaleAfter: three missed heartbeats, each at
// least one second); entries of dead nodes age out with the bucket's TTL.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/fleetview"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// ErrNoNode is returned when no fresh node can take clients.
var ErrNoNode = errors.New("fleet: no node available")

// Registration is a node's entry in events.BucketFleet (key: node id).
type Registration = events.Registration

func load(r Registration) float64 {
	if r.Capacity <= 0 {
		return 1
	}
	return float64(r.Connections) / float64(r.Capacity)
}

// Registry is this node's view of the fleet.
type Registry struct {
	kv   jetstream.KeyValue
	log  zerolog.Logger
	view *fleetview.View

	mu sync.Mutex
	// sent counts the clients Pick sent to a node since its registration
	// was last read; a newer registration (whose count includes them)
	// resets it.
	sent map[string]int
}

// Open binds the registry bucket. An entry whose URLs name a host that
// hosts does not allow is ignored (empty hosts allows any).
func Open(ctx context.Context, js jetstream.JetStream, hosts events.Hosts, log zerolog.Logger) (*Registry, error) {
	kv, err := js.KeyValue(ctx, events.BucketFleet)
	if err != nil {
		return nil, fmt.Errorf("fleet: bucket %s: %w", events.BucketFleet, err)
	}
	return newRegistry(kv, hosts, log), nil
}

func newRegistry(kv jetstream.KeyValue, hosts events.Hosts, log zerolog.Logger) *Registry {
	log = log.With().Str("component", "fleet").Logger()
	return &Registry{kv: kv, log: log, view: fleetview.New(fleetview.Config{Hosts: hosts}, log), sent: map[string]int{}}
}

// Put writes reg under its node id.
func (r *Registry) Put(ctx context.Context, reg Registration) error {
	b, _ := json.Marshal(reg)
	if _, err := r.kv.Put(ctx, reg.Node, b); err != nil {
		return fmt.Errorf("fleet: put %s: %w", reg.Node, err)
	}
	r.set(reg)
	return nil
}

// Delete removes a node's entry (a clean stop).
func (r *Registry) Delete(ctx context.Context, node string) error {
	r.view.Remove(node)
	r.resetSent(node)
	if err := r.kv.Delete(ctx, node); err != nil {
		return fmt.Errorf("fleet: delete %s: %w", node, err)
	}
	return nil
}

// set takes a registration this node wrote.
func (r *Registry) set(reg Registration) {
	r.view.Observe(fleetview.FromRegistration(reg, time.Time{}))
	r.resetSent(reg.Node)
}

func (r *Registry) resetSent(node string) {
	r.mu.Lock()
	delete(r.sent, node)
	r.mu.Unlock()
}

// Watch keeps the view up to date until ctx ends (service.WatchKV:
// watched again after it fails or ends).
func (r *Registry) Watch(ctx context.Context) error {
	return service.WatchKV(ctx, r.kv, service.KVWatch{Apply: r.apply}, r.log)
}

// apply takes one change of the bucket: fleetview believes it or drops
// the node (a forged entry must not leave the previous good one in use
// either), and the node's count of clients sent starts again.
func (r *Registry) apply(e jetstream.KeyValueEntry) {
	r.view.Apply(e)
	r.resetSent(e.Key())
}

// Get returns a node's entry.
func (r *Registry) Get(node string) (Registration, bool) {
	n, ok := r.view.Get(node)
	if !ok {
		return Registration{}, false
	}
	return n.Registration(), true
}

// Candidates are the fresh, non-draining nodes with room, except the
// excluded one.
func (r *Registry) Candidates(exclude string, now time.Time) []Registration {
	var out []Registration
	for _, n := range r.view.Nodes(now) {
		if n.ID == exclude || n.Draining || !n.Fresh(now) || n.URL == "" || n.Connections >= n.Capacity {
			continue
		}
		out = append(out, n.Registration())
	}
	return out
}

// Best is the least loaded candidate (connections over capacity).
func (r *Registry) Best(exclude string, now time.Time) (Registration, error) {
	var best Registration
	found := false
	for _, reg := range r.Candidates(exclude, now) {
		if !found || load(reg) < load(best) || (load(reg) == load(best) && reg.Node < best.Node) {
			best, found = reg, true
		}
	}
	if !found {
		return best, ErrNoNode
	}
	return best, nil
}

// Picker spreads clients over candidates in proportion to their free
// capacity, so that a drain does not pour every client onto one node.
type Picker struct {
	regs  []Registration
	free  []int
	total int
}

// NewPicker builds a picker over the candidates.
func NewPicker(regs []Registration) *Picker {
	p := &Picker{regs: regs}
	for _, reg := range regs {
		f := max(reg.Capacity-reg.Connections, 1)
		p.free = append(p.free, f)
		p.total += f
	}
	return p
}

// Pick returns the URL of a node for one client, "" if there is none.
func (p *Picker) Pick() string {
	if p.total == 0 {
		return ""
	}
	n := rand.IntN(p.total)
	for i, f := range p.free {
		if n < f {
			return p.regs[i].URL
		}
		n -= f
	}
	return p.regs[len(p.regs)-1].URL
}

// Pick chooses the node for one new client (the answer of /v1/connect):
// the power of two random choices weighted by free capacity. Two distinct
// candidates are drawn, each with a probability proportional to its free
// capacity, and the one with the larger share of free capacity wins (a
// tie is broken at random).
//
// Free capacity counts the clients this registry already sent to a node
// since that node's registration was read: registrations are refreshed
// once per heartbeat, and without that count every client asking in
// between (the whole crowd of a dead node) would go to the same node.
// With it, a dead node's clients land evenly on equal survivors, and a
// cooler survivor takes more until it has caught up.
func (r *Registry) Pick(exclude string, now time.Time) (Registration, error) {
	cands := r.Candidates(exclude, now)
	r.mu.Lock()
	defer r.mu.Unlock()
	free := make([]int, len(cands))
	total := 0
	for i, reg := range cands {
		free[i] = max(reg.Capacity-reg.Connections-r.sent[reg.Node], 1)
		total += free[i]
	}
	if total == 0 {
		return Registration{}, ErrNoNode
	}
	a := weighted(free, total, -1)
	choice := a
	if len(cands) > 1 {
		b := weighted(free, total-free[a], a)
		choice = better(cands, free, a, b)
	}
	r.sent[cands[choice].Node]++
	return cands[choice], nil
}

// weighted draws an index with probability free[i]/total, skipping skip
// (whose weight the caller removed from total).
func weighted(free []int, total, skip int) int {
	n := rand.IntN(total)
	for i, f := range free {
		if i == skip {
			continue
		}
		if n < f {
			return i
		}
		n -= f
	}
	for i := len(free) - 1; i >= 0; i-- {
		if i != skip {
			return i
		}
	}
	return 0
}

// better is whichever of a and b has the larger share of its capacity
// free, at random on a tie.
func better(cands []Registration, free []int, a, b int) int {
	fa, fb := share(free[a], cands[a].Capacity), share(free[b], cands[b].Capacity)
	switch {
	case fa > fb:
		return a
	case fb > fa:
		return b
	case rand.IntN(2) == 0:
		return a
	default:
		return b
	}
}

func share(free, capacity int) float64 {
	if capacity <= 0 {
		return 0
	}
	return float64(free) / float64(capacity)
}
