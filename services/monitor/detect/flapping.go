package detect

import (
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// FlappingConfig tunes the flapping detector.
type FlappingConfig struct {
	Changes      int           `envconfig:"FLAP_CHANGES" default:"6" desc:"state changes in Window to enter"`
	LeaveChanges int           `envconfig:"FLAP_LEAVE_CHANGES" default:"2" desc:"at most this many to leave"`
	Window       time.Duration `envconfig:"FLAP_WINDOW" default:"5m" desc:"window of the flapping detector"`
	Settle       time.Duration `envconfig:"FLAP_SETTLE" default:"5s" desc:"an entry into an unhealthy state counts toward flapping only once this long has passed, and not if the fleet shared a lapse or a degradation within this long of it"`
}

// DefaultFlapping returns the flapping defaults.
func DefaultFlapping() FlappingConfig {
	return FlappingConfig{Changes: 6, LeaveChanges: 2, Window: 5 * time.Minute, Settle: 5 * time.Second}
}

type flaps struct {
	changes []time.Time
	pending []time.Time // entries not yet settled
	firing  bool
	start   time.Time
}

// span is a stretch of time in which the fleet shared a condition.
type span struct{ from, to time.Time }

// Flapping fires when a node changes state too often in a sliding window;
// the healer quarantines such a node instead of healing it forever.
//
// An entry the whole fleet shares is no node's flapping: the fleet's
// nodes miss their heartbeats one after the other within a beat interval
// when the host stalls, so whether an entry is shared is known only a
// little later. Entries therefore wait Settle; one within Settle of a
// moment the fleet shared a condition (Shared) is dropped, the others
// count. An entry that cannot be shared (a process that died: Change with
// alone) counts at once.
type Flapping struct {
	cfg    FlappingConfig
	nodes  map[string]*flaps
	shared []span
}

// NewFlapping returns a flapping detector.
func NewFlapping(cfg FlappingConfig) *Flapping {
	return &Flapping{cfg: cfg, nodes: map[string]*flaps{}}
}

// Kind is the anomaly kind it raises.
func (d *Flapping) Kind() string { return events.KindFlapping }

func (d *Flapping) get(node string) *flaps {
	f, ok := d.nodes[node]
	if !ok {
		f = &flaps{}
		d.nodes[node] = f
	}
	return f
}

// Change records an entry of node into an unhealthy state at at. alone
// says it cannot be shared by the fleet (it counts at once); any other
// entry settles first.
func (d *Flapping) Change(node string, at time.Time, alone bool) {
	f := d.get(node)
	if alone || d.cfg.Settle <= 0 {
		f.changes = append(f.changes, at)
		return
	}
	f.pending = append(f.pending, at)
}

// Shared records that the fleet as a whole shared a condition at at
// (most nodes late, or fleet_degraded firing): entries near it are the
// fleet's, not a node's.
func (d *Flapping) Shared(at time.Time) {
	if n := len(d.shared); n > 0 && !at.After(d.shared[n-1].to.Add(d.cfg.Settle)) {
		if at.After(d.shared[n-1].to) {
			d.shared[n-1].to = at
		}
		return
	}
	d.shared = append(d.shared, span{from: at, to: at})
}

// sharedNear reports whether the fleet shared a condition within Settle
// of at.
func (d *Flapping) sharedNear(at time.Time) bool {
	for _, s := range d.shared {
		if !at.Before(s.from.Add(-d.cfg.Settle)) && !at.After(s.to.Add(d.cfg.Settle)) {
			return true
		}
	}
	return false
}

// settle moves the entries of f older than Settle to its count, unless
// the fleet shared them.
func (d *Flapping) settle(f *flaps, now time.Time) {
	keep := f.pending[:0]
	for _, at := range f.pending {
		switch {
		case now.Sub(at) < d.cfg.Settle:
			keep = append(keep, at)
		case !d.sharedNear(at):
			f.changes = append(f.changes, at)
		}
	}
	f.pending = keep
}

// Check evaluates every node at now.
func (d *Flapping) Check(now time.Time) []Transition {
	var out []Transition
	for node, f := range d.nodes {
		d.settle(f, now)
		cut := 0
		for cut < len(f.changes) && now.Sub(f.changes[cut]) > d.cfg.Window {
			cut++
		}
		f.changes = f.changes[cut:]
		n := len(f.changes)
		switch {
		case !f.firing && n >= d.cfg.Changes:
			f.firing, f.start = true, f.changes[0]
		case f.firing && n <= d.cfg.LeaveChanges:
			f.firing = false
		default:
			if n == 0 && !f.firing && len(f.pending) == 0 {
				delete(d.nodes, node)
			}
			continue
		}
		out = append(out, Transition{Kind: d.Kind(), Target: node, Open: f.firing, Start: f.start, At: now, Severity: events.SeverityError,
			Evidence: events.Evidence{Metric: "state_changes", Value: float64(n), Threshold: float64(d.cfg.Changes), WindowMS: d.cfg.Window.Milliseconds()},
			Summary:  fmt.Sprintf("%s changed state %d times in %v", node, n, d.cfg.Window)})
	}
	d.prune(now)
	return out
}

// prune forgets shared spans no pending entry can reach any more.
func (d *Flapping) prune(now time.Time) {
	cut := 0
	for cut < len(d.shared) && now.Sub(d.shared[cut].to) > 3*d.cfg.Settle {
		cut++
	}
	d.shared = d.shared[cut:]
}

// Seed restores a firing state for node.
func (d *Flapping) Seed(node string, start time.Time) {
	f := d.get(node)
	f.firing, f.start = true, start
}

// Forget drops a node.
func (d *Flapping) Forget(node string) { delete(d.nodes, node) }
