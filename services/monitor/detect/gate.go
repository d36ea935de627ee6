package detect

import (
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Verdict is what one sample says about a condition.
type Verdict int8

// Verdicts. Hold is a sample between the enter and the leave threshold: it
// breaks a run of bad or good samples without moving the state.
const (
	Hold Verdict = iota
	Good
	Bad
)

// Gate is hysteresis over a stream of verdicts: it fires after FireAfter
// consecutive Bad verdicts and clears after ClearAfter consecutive Good
// ones. Its zero value fires on the first Bad and clears on the first Good.
type Gate struct {
	FireAfter  int
	ClearAfter int

	bad, good int
	firing    bool
	runStart  time.Time
	start     time.Time
}

// Observe feeds one verdict taken at at. It reports whether the gate fired
// or cleared with this sample.
func (g *Gate) Observe(v Verdict, at time.Time) (fired, cleared bool) {
	switch v {
	case Bad:
		if g.bad == 0 {
			g.runStart = at
		}
		g.bad++
		g.good = 0
		if !g.firing && g.bad >= max(g.FireAfter, 1) {
			g.firing, g.start = true, g.runStart
			return true, false
		}
	case Good:
		g.good++
		g.bad = 0
		if g.firing && g.good >= max(g.ClearAfter, 1) {
			g.firing = false
			return false, true
		}
	default:
		g.bad, g.good = 0, 0
	}
	return false, false
}

// Firing reports whether the gate is firing.
func (g *Gate) Firing() bool { return g.firing }

// Degraded reports whether the gate fires or is one Bad verdict short of
// firing (FireAfter-1 in a row, at least one): the node is on its way into
// the condition. The fleet correlation counts such nodes; a lone bad
// sample does not count.
func (g *Gate) Degraded() bool {
	return g.firing || g.bad >= max(g.FireAfter-1, 1)
}

// Bad reports whether the latest verdict was Bad.
func (g *Gate) Bad() bool { return g.bad > 0 }

// Start is the time of the first bad sample of the run that fired.
func (g *Gate) Start() time.Time { return g.start }

// Seed puts the gate in the firing state, as restored from durable state.
func (g *Gate) Seed(start time.Time) {
	g.firing, g.start, g.bad, g.good = true, start, 0, 0
}

// Transition is an anomaly firing (Open) or clearing on a target.
type Transition struct {
	Kind     string
	Target   string // a node id or events.FleetTarget
	Open     bool
	Start    time.Time // impact start: the first bad sample
	At       time.Time // the sample that decided
	Severity string
	Nodes    []string
	Evidence events.Evidence
	Summary  string
}

// gates is a set of gates keyed by target.
type gates struct {
	fire, clear int
	m           map[string]*Gate
}

func newGates(fire, clear int) gates {
	return gates{fire: fire, clear: clear, m: map[string]*Gate{}}
}

func (gs *gates) get(target string) *Gate {
	g, ok := gs.m[target]
	if !ok {
		g = &Gate{FireAfter: gs.fire, ClearAfter: gs.clear}
		gs.m[target] = g
	}
	return g
}

// step observes v for target and returns a transition skeleton when the
// gate moved.
func (gs *gates) step(kind, target string, v Verdict, at time.Time) *Transition {
	g := gs.get(target)
	fired, cleared := g.Observe(v, at)
	if !fired && !cleared {
		return nil
	}
	return &Transition{Kind: kind, Target: target, Open: fired, Start: g.Start(), At: at}
}

// Seed restores a firing gate for target. Detectors that embed gates
// implement NodeDetector's Seed and Forget through it.
func (gs *gates) Seed(target string, start time.Time) { gs.get(target).Seed(start) }

// Degraded reports whether target's gate fires or just saw a Bad verdict.
func (gs *gates) Degraded(target string) bool {
	g, ok := gs.m[target]
	return ok && g.Degraded()
}

// Bad reports whether target's latest verdict was Bad.
func (gs *gates) Bad(target string) bool {
	g, ok := gs.m[target]
	return ok && g.Bad()
}

// Forget drops a target's state.
func (gs *gates) Forget(target string) { delete(gs.m, target) }

// verdict classifies v against an enter and a leave threshold (enter >
// leave: high values are bad).
func verdict(v, enter, leave float64) Verdict {
	switch {
	case v >= enter:
		return Bad
	case v < leave:
		return Good
	}
	return Hold
}
