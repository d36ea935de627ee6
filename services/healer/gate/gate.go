package gate

import (
	"slices"
	"time"

	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// Kind is what a verdict tells the engine to do.
type Kind int

const (
	// Continue: the gate lets the case through to the next gate (after the
	// last gate, the engine acts).
	Continue Kind = iota
	// Finish ends the case with a skip (Reason, Why).
	Finish
	// Wait publishes the skip once per reason and comes back after Delay.
	Wait
	// Escalate ends the case and hands it to a person (Reason, Why).
	Escalate
)

// String names the kind, for test failures and logs.
func (k Kind) String() string {
	return [...]string{"continue", "finish", "wait", "escalate"}[k]
}

// Verdict is a gate's answer for one delivery. The gate decides; the
// engine carries the verdict out (events, writes) in one place.
type Verdict struct {
	Kind Kind
	// Gate is the name of the gate that gave the verdict ("" for a case
	// that passed every gate); set by Run.
	Gate   string
	Reason string // an events.Skip* reason, or "policy"
	Why    string
	Delay  time.Duration // Wait: when to come back
	// Alarm: escalate as well, before the skip. A finish with an alarm
	// records the outcome "escalated".
	Alarm bool
	// EnterPanic: enter the panic state shared by the replicas; the
	// delivery that enters it escalates.
	EnterPanic bool
	// Quarantine (Escalate): drain the case's nodes and leave them out
	// before escalating; in dry-run only say so, and escalate nothing.
	Quarantine bool
	// DryRun (Finish): publish what every step of the policy would do,
	// instead of one skip.
	DryRun bool
}

// Passed reports whether the case went through the gate named name.
func (v Verdict) Passed(name string) bool {
	if v.Kind == Continue {
		return true
	}
	order := Names()
	return slices.Index(order, name) < slices.Index(order, v.Gate)
}

// Limits are the configured thresholds the gates hold cases against.
type Limits struct {
	PanicShare float64       // share of the fleet silent that stops every action
	MaxAge     time.Duration // an anomaly open longer is escalated
	FlapHeals  int           // heals within FlapWindow that make a node flapping
	FlapWindow time.Duration
	RetryCap   int           // failed verifications before escalating
	BlastShare float64       // share of the fleet that may be out at once
	Wait       time.Duration // re-evaluation while paused or held
	Backoff    safety.Backoff
	Budget     safety.Budget
	Scale      Scale // the fleet's size bounds and the cooldowns of scale
}

// Gate is one check of the pipeline: a pure function of the case and the
// snapshot of one delivery.
type Gate struct {
	Name   string
	limits Limits
	check  func(Limits, state.Case, Snapshot) Verdict
}

// Check runs the gate on a case.
func (g Gate) Check(c state.Case, s Snapshot) Verdict {
	v := g.check(g.limits, c, s)
	if v.Kind != Continue {
		v.Gate = g.Name
	}
	return v
}

// gates is the pipeline, in the order of the table in the healer's
// doc.go (a test keeps the two equal). It is the one place the order is
// written.
var gates = []struct {
	name  string
	check func(Limits, state.Case, Snapshot) Verdict
}{
	{"resolved", resolved},
	{"panic", panicked},
	{"max age", maxAge},
	{"policy", hasPolicy},
	{"pause", paused},
	{"hands-off", handsOff},
	{"quarantine", quarantined},
	{"flapping", flapping},
	{"fleet hold", fleetHold},
	{"dry-run", dryRun},
	{"retry cap", retryCap},
	{"targets", targets},
	{"scale hold", scaleHold},
	{"scale bounds", scaleBounds},
	{"scale cooldown", scaleCooldown},
	{"backoff", backoff},
	{"blast radius", blastRadius},
	{"budget", budget},
}

// FirstActionGate is the first of the gates that hold one action back
// (targets, the scale gates, backoff, blast radius, budget); a follow-up
// step passes only these.
const FirstActionGate = "targets"

// Pipeline returns every gate in order, holding cases against l.
func Pipeline(l Limits) []Gate {
	out := make([]Gate, len(gates))
	for i, g := range gates {
		out[i] = Gate{Name: g.name, limits: l, check: g.check}
	}
	return out
}

// Actions returns the gates of one action: those of the pipeline from
// FirstActionGate on.
func Actions(p []Gate) []Gate {
	i := slices.IndexFunc(p, func(g Gate) bool { return g.Name == FirstActionGate })
	if i < 0 {
		return nil
	}
	return p[i:]
}

// Names lists the gates' names in order.
func Names() []string {
	out := make([]string, len(gates))
	for i, g := range gates {
		out[i] = g.name
	}
	return out
}

// Run passes the case through the gates in order: the first verdict other
// than Continue is the answer; Continue when every gate lets it through.
func Run(p []Gate, c state.Case, s Snapshot) Verdict {
	for _, g := range p {
		if v := g.Check(c, s); v.Kind != Continue {
			return v
		}
	}
	return Verdict{}
}

func cont() Verdict { return Verdict{} }

func finish(reason, why string) Verdict { return Verdict{Kind: Finish, Reason: reason, Why: why} }

func wait(reason, why string, d time.Duration) Verdict {
	return Verdict{Kind: Wait, Reason: reason, Why: why, Delay: d}
}

func escalate(reason, why string) Verdict { return Verdict{Kind: Escalate, Reason: reason, Why: why} }
