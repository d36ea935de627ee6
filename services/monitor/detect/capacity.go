package detect

import (
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// CapacityConfig tunes the fleet capacity detectors: fleet_saturated (the
// fleet needs one node more) and fleet_underused (one node fewer would
// do). Utilisation is the connections of the active, non-draining nodes
// over their summed capacity.
type CapacityConfig struct {
	SaturatedEnter float64       `envconfig:"FLEET_SATURATED" default:"0.8" desc:"fleet utilisation (connections / capacity of the active, non-draining nodes) at or above which fleet_saturated enters"`
	SaturatedLeave float64       `envconfig:"FLEET_SATURATED_LEAVE" default:"0.7" desc:"below this utilisation fleet_saturated is good"`
	SaturatedFor   time.Duration `envconfig:"FLEET_SATURATED_FOR" default:"20s" desc:"how long the fleet stays at or above FLEET_SATURATED before fleet_saturated opens (the healer adds a node); 0: never"`
	UnderusedEnter float64       `envconfig:"FLEET_UNDERUSED" default:"0.3" desc:"fleet utilisation at or below which fleet_underused enters, with more than one node active"`
	UnderusedLeave float64       `envconfig:"FLEET_UNDERUSED_LEAVE" default:"0.4" desc:"above this utilisation fleet_underused is good"`
	UnderusedFor   time.Duration `envconfig:"FLEET_UNDERUSED_FOR" default:"2m" desc:"how long the fleet stays at or below FLEET_UNDERUSED before fleet_underused opens (the healer removes a node by a paced drain); 0: never (wsheal dev, which cannot remove one)"`
	UnderusedFloor int           `envconfig:"FLEET_UNDERUSED_FLOOR" default:"1" desc:"the fleet's smallest size: fleet_underused needs more active nodes than this (set it to the healer's WSHEAL_HEALER_SCALE_MIN, so that a fleet at its floor is never called underused)"`
}

// DefaultCapacity returns the capacity defaults.
func DefaultCapacity() CapacityConfig {
	return CapacityConfig{SaturatedEnter: 0.8, SaturatedLeave: 0.7, SaturatedFor: 20 * time.Second,
		UnderusedEnter: 0.3, UnderusedLeave: 0.4, UnderusedFor: 2 * time.Minute, UnderusedFloor: 1}
}

// FleetLoad is the fleet's load in one fleet round: the active, non-draining
// nodes that beat, their connections and their summed capacity.
type FleetLoad struct {
	Nodes       []string
	Connections int
	Capacity    int
}

// Share is connections over capacity, 0 when the capacity is unknown.
func (u FleetLoad) Share() float64 {
	if u.Capacity <= 0 {
		return 0
	}
	return float64(u.Connections) / float64(u.Capacity)
}

// Capacity is one of the two fleet capacity detectors. Unlike the
// count-based Gate, it fires on time: once every round for For was bad
// (a round between the thresholds breaks the run, as Hold does), and it
// clears after ClearAfter good rounds in a row. A For of 0 turns it off:
// every round is good.
//
// A change in the number of nodes it judges ends a firing anomaly (the
// fleet it was about is gone: a node was added or removed) and starts
// the window afresh, so that a fleet still saturated with one node more
// opens a new anomaly, and the healer adds the next node, only after a
// full window of the new size.
type Capacity struct {
	kind        string
	enter       float64
	leave       float64
	hold        time.Duration
	clearAfter  int
	high        bool // high utilisation is bad (saturated); else low is
	minNodes    int
	severity    string
	badSince    time.Time
	good        int
	firing      bool
	start       time.Time
	size        int // nodes of the current run; -1: not known yet
	lastShare   float64
	lastLoad    FleetLoad
	resizedFrom int
}

// NewFleetSaturated returns the fleet_saturated detector.
func NewFleetSaturated(cfg CapacityConfig, h Hysteresis) *Capacity {
	return &Capacity{kind: events.KindFleetSaturated, enter: cfg.SaturatedEnter, leave: cfg.SaturatedLeave,
		hold: cfg.SaturatedFor, clearAfter: max(h.ClearAfter, 1), high: true, minNodes: 1,
		severity: events.SeverityWarning, size: -1}
}

// NewFleetUnderused returns the fleet_underused detector: it needs more
// active nodes than the fleet's floor (and than one: the last node is
// never removed), since a fleet that cannot shrink is not underused.
func NewFleetUnderused(cfg CapacityConfig, h Hysteresis) *Capacity {
	return &Capacity{kind: events.KindFleetUnderused, enter: cfg.UnderusedEnter, leave: cfg.UnderusedLeave,
		hold: cfg.UnderusedFor, clearAfter: max(h.ClearAfter, 1), minNodes: max(2, cfg.UnderusedFloor+1),
		severity: events.SeverityInfo, size: -1}
}

// Kind is the anomaly kind it raises.
func (d *Capacity) Kind() string { return d.kind }

// Firing reports whether the anomaly is open.
func (d *Capacity) Firing() bool { return d.firing }

// Seed restores a firing state; the size is taken from the next round.
func (d *Capacity) Seed(start time.Time) {
	d.firing, d.start, d.badSince, d.good, d.size = true, start, start, 0, -1
}

// judge classifies one round.
func (d *Capacity) judge(u FleetLoad) Verdict {
	if d.hold <= 0 || len(u.Nodes) < d.minNodes || u.Capacity <= 0 {
		return Good
	}
	v := u.Share()
	if d.high {
		return verdict(v, d.enter, d.leave)
	}
	switch {
	case v <= d.enter:
		return Bad
	case v > d.leave:
		return Good
	}
	return Hold
}

// Observe feeds one fleet round taken at at.
func (d *Capacity) Observe(at time.Time, u FleetLoad) *Transition {
	d.lastLoad, d.lastShare = u, u.Share()
	if d.size >= 0 && len(u.Nodes) != d.size {
		from := d.size
		d.size, d.badSince, d.good = len(u.Nodes), time.Time{}, 0
		if d.firing {
			d.firing, d.resizedFrom = false, from
			if d.judge(u) == Bad {
				d.badSince = at // this round starts the new size's window
			}
			return d.transition(at, false)
		}
	}
	d.size = len(u.Nodes)
	switch d.judge(u) {
	case Bad:
		d.good = 0
		if d.badSince.IsZero() {
			d.badSince = at
		}
		if !d.firing && at.Sub(d.badSince) >= d.hold {
			d.firing, d.start, d.resizedFrom = true, d.badSince, 0
			return d.transition(at, true)
		}
	case Good:
		d.badSince = time.Time{}
		d.good++
		if d.firing && d.good >= d.clearAfter {
			d.firing, d.resizedFrom = false, 0
			return d.transition(at, false)
		}
	default:
		d.badSince, d.good = time.Time{}, 0
	}
	return nil
}

// transition describes the anomaly as of the last round.
func (d *Capacity) transition(at time.Time, open bool) *Transition {
	u := d.lastLoad
	t := &Transition{Kind: d.kind, Target: events.FleetTarget, Open: open, Start: d.start, At: at, Severity: d.severity,
		Nodes: append([]string(nil), u.Nodes...)}
	t.Evidence = events.Evidence{Metric: "fleet_utilisation", Value: d.lastShare, Threshold: d.enter, WindowMS: d.hold.Milliseconds(),
		Detail: fmt.Sprintf("%d connections of a capacity of %d on %d active nodes", u.Connections, u.Capacity, len(u.Nodes))}
	pct := fmt.Sprintf("%.0f%% of its capacity (%d of %d connections on %d nodes)", d.lastShare*100, u.Connections, u.Capacity, len(u.Nodes))
	switch {
	case d.resizedFrom > 0:
		t.Summary = fmt.Sprintf("the fleet changed size (%d to %d nodes): %s, judged afresh", d.resizedFrom, len(u.Nodes), pct)
	case d.high:
		t.Summary = fmt.Sprintf("the fleet is saturated: %s for %s, no cooler node to shed clients to", pct, d.hold)
	default:
		t.Summary = fmt.Sprintf("the fleet is underused: %s for %s, one node fewer would do", pct, d.hold)
	}
	return t
}
