package detect

import (
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// FlappingConfig tunes the flapping detector.
type FlappingConfig struct {
	Changes      int           `envconfig:"FLAP_CHANGES" default:"6"`       // state changes in Window to enter
	LeaveChanges int           `envconfig:"FLAP_LEAVE_CHANGES" default:"2"` // at most this many to leave
	Window       time.Duration `envconfig:"FLAP_WINDOW" default:"5m"`
}

// DefaultFlapping returns the flapping defaults.
func DefaultFlapping() FlappingConfig {
	return FlappingConfig{Changes: 6, LeaveChanges: 2, Window: 5 * time.Minute}
}

type flaps struct {
	changes []time.Time
	firing  bool
	start   time.Time
}

// Flapping fires when a node changes state too often in a sliding window;
// the healer quarantines such a node instead of healing it forever.
type Flapping struct {
	cfg   FlappingConfig
	nodes map[string]*flaps
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

// Change records a state change of node at at.
func (d *Flapping) Change(node string, at time.Time) {
	f := d.get(node)
	f.changes = append(f.changes, at)
}

// Check evaluates every node at now.
func (d *Flapping) Check(now time.Time) []Transition {
	var out []Transition
	for node, f := range d.nodes {
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
			if n == 0 && !f.firing {
				delete(d.nodes, node)
			}
			continue
		}
		out = append(out, Transition{Kind: d.Kind(), Target: node, Open: f.firing, Start: f.start, At: now, Severity: events.SeverityError,
			Evidence: events.Evidence{Metric: "state_changes", Value: float64(n), Threshold: float64(d.cfg.Changes), WindowMS: d.cfg.Window.Milliseconds()},
			Summary:  fmt.Sprintf("%s changed state %d times in %v", node, n, d.cfg.Window)})
	}
	return out
}

// Seed restores a firing state for node.
func (d *Flapping) Seed(node string, start time.Time) {
	f := d.get(node)
	f.firing, f.start = true, start
}

// Forget drops a node.
func (d *Flapping) Forget(node string) { delete(d.nodes, node) }
