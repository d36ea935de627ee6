// Package policy reads the healer's policy file: which anomaly, of which
// severity, calls for which ordered chain of actions, each with its
// parameters, post-condition and deadline.
package policy

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// DefaultYAML is the built-in policy file, printed by `wsheal healer policies`.
//
//go:embed default.yaml
var DefaultYAML []byte

// ErrInvalid is wrapped by every validation error of a policy file.
var ErrInvalid = errors.New("policy: invalid")

// Post-conditions an action is verified against.
const (
	VerifyNodeHealthy     = "node_healthy"     // fresh heartbeats from the node since the action
	VerifyNodeAccepting   = "node_accepting"   // healthy and not draining
	VerifyDrained         = "drained"          // the node holds no connections
	VerifyAnomalyResolved = "anomaly_resolved" // the monitor resolved the anomaly
	VerifyBalanced        = "balanced"         // max/mean connections within the bound
	VerifyScaled          = "scaled"           // +1: a new node healthy and accepting; -1: the removed node gone, the rest healthy
	VerifyNone            = "none"             // the action's own reply is the proof
)

// Verifications lists the known post-conditions.
var Verifications = []string{VerifyNodeHealthy, VerifyNodeAccepting, VerifyDrained, VerifyAnomalyResolved, VerifyBalanced, VerifyScaled, VerifyNone}

// Actions lists the actions a policy may name.
var Actions = []string{events.ActionReconnect, events.ActionResize, events.ActionDrain, events.ActionUndrain,
	events.ActionRebalance, events.ActionRestart, events.ActionWebhook, events.ActionEscalate, events.ActionQuarantine,
	events.ActionScale}

// Kinds lists the anomaly kinds a policy may match.
var Kinds = []string{events.KindNodeDown, events.KindNodeHung, events.KindRTTDegraded, events.KindStaleSpike,
	events.KindSlowConsumers, events.KindErrorRate, events.KindSaturation, events.KindReconnectStorm,
	events.KindImbalance, events.KindFlapping, events.KindFleetSilent, events.KindFleetDegraded,
	events.KindDataPlaneErrors, events.KindStoreFull, events.KindConsumerLimit, events.KindNotRecovered,
	events.KindFleetSaturated, events.KindFleetUnderused}

// InformOnly are the kinds no node action may answer: a shift shared by
// the fleet (fleet_degraded) is the host's, the network's or NATS's, so
// a policy for it may only escalate or call a runbook.
var InformOnly = []string{events.KindFleetDegraded}

// Informs reports whether action leaves every node alone.
func Informs(action string) bool {
	return action == events.ActionEscalate || action == events.ActionWebhook
}

// Duration is a time.Duration written as "30s" or "2m" in the file.
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// Set is the policy file: policies in order, the first match wins.
type Set struct {
	Policies []Policy `yaml:"policies" json:"policies"`
	// Source is the file path, or "built-in".
	Source string `yaml:"-" json:"-"`
}

// Policy maps anomaly kinds at or above a severity to a ladder of actions.
type Policy struct {
	Name        string   `yaml:"name" json:"name"`
	Kinds       []string `yaml:"kinds" json:"kinds"`
	MinSeverity string   `yaml:"min_severity,omitempty" json:"min_severity,omitempty"`
	Actions     []Step   `yaml:"actions" json:"actions"`
	Then        []Step   `yaml:"then,omitempty" json:"then,omitempty"`
	// Order is how the ladder is ordered: learned (default: by the
	// healer's record) or pinned (as written).
	Order string `yaml:"order,omitempty" json:"order,omitempty"`
}

// Orders of a policy's ladder.
const (
	OrderLearned = "learned"
	OrderPinned  = "pinned"
)

// Pinned reports whether the ladder is tried as written.
func (p *Policy) Pinned() bool { return p.Order == OrderPinned }

// Ordered returns a copy of the policy whose ladder is Actions in order
// (indices into Actions); an order that is not a permutation of the
// ladder gives the ladder as written.
func (p *Policy) Ordered(order []int) *Policy {
	q := *p
	if !IsOrder(order, len(p.Actions)) {
		return &q
	}
	q.Actions = make([]Step, len(order))
	for i, j := range order {
		q.Actions[i] = p.Actions[j]
	}
	return &q
}

// IsOrder reports whether order is a permutation of 0..n-1.
func IsOrder(order []int, n int) bool {
	if len(order) != n {
		return false
	}
	seen := make([]bool, n)
	for _, j := range order {
		if j < 0 || j >= n || seen[j] {
			return false
		}
		seen[j] = true
	}
	return true
}

// Remedy names a step in the healer's record: the action, and for a
// reconnect its selection (reconnecting the stale clients and a share of
// all of them are different remedies), for a scale its direction
// (scale-out, scale-in).
func (s Step) Remedy() string {
	switch {
	case s.Action == events.ActionScale && s.Scale > 0:
		return s.Action + "-out"
	case s.Action == events.ActionScale && s.Scale < 0:
		return s.Action + "-in"
	}
	if s.Select != "" {
		return s.Action + "-" + s.Select
	}
	return s.Action
}

// Step is one action with its parameters, post-condition and deadline.
// Parameters that do not apply to the action must be left out.
type Step struct {
	Action   string   `yaml:"action" json:"action"`
	Verify   string   `yaml:"verify,omitempty" json:"verify,omitempty"`
	Deadline Duration `yaml:"deadline,omitempty" json:"deadline,omitempty"`
	Attempts int      `yaml:"attempts,omitempty" json:"attempts,omitempty"`

	// reconnect
	Select   string   `yaml:"select,omitempty" json:"select,omitempty"`
	Fraction float64  `yaml:"fraction,omitempty" json:"fraction,omitempty"`
	Count    int      `yaml:"count,omitempty" json:"count,omitempty"`
	Over     Duration `yaml:"over,omitempty" json:"over,omitempty"`

	// resize
	MaxConnsFactor float64  `yaml:"max_conns_factor,omitempty" json:"max_conns_factor,omitempty"`
	AcceptRate     float64  `yaml:"accept_rate,omitempty" json:"accept_rate,omitempty"`
	RestoreAfter   Duration `yaml:"restore_after,omitempty" json:"restore_after,omitempty"`

	// rebalance
	Bound        float64  `yaml:"bound,omitempty" json:"bound,omitempty"`
	WaveFraction float64  `yaml:"wave_fraction,omitempty" json:"wave_fraction,omitempty"`
	WavePause    Duration `yaml:"wave_pause,omitempty" json:"wave_pause,omitempty"`
	MaxWaves     int      `yaml:"max_waves,omitempty" json:"max_waves,omitempty"`

	// webhook
	URL string `yaml:"url,omitempty" json:"url,omitempty"`

	// scale: +1 adds a gateway node, -1 removes one by a paced drain.
	Scale int `yaml:"step,omitempty" json:"step,omitempty"`
}

// Match returns the first policy for kind at severity, or nil.
func (s *Set) Match(kind, severity string) *Policy {
	rank := events.SeverityRank(severity)
	for i := range s.Policies {
		p := &s.Policies[i]
		if slices.Contains(p.Kinds, kind) && rank >= events.SeverityRank(p.MinSeverity) {
			return p
		}
	}
	return nil
}

// StepFor returns the ladder step of the n-th attempt (1-based): each step
// takes its Attempts turns, the last step repeats.
func (p *Policy) StepFor(n int) Step {
	left := n
	for _, s := range p.Actions {
		left -= s.Attempts
		if left <= 0 {
			return s
		}
	}
	return p.Actions[len(p.Actions)-1]
}

// DefaultVerify is the post-condition of an action whose step names none.
func DefaultVerify(action string) string {
	switch action {
	case events.ActionRestart:
		return VerifyNodeHealthy
	case events.ActionUndrain:
		return VerifyNodeAccepting
	case events.ActionDrain, events.ActionQuarantine:
		return VerifyDrained
	case events.ActionRebalance:
		return VerifyBalanced
	case events.ActionScale:
		return VerifyScaled
	case events.ActionWebhook, events.ActionEscalate:
		return VerifyNone
	}
	return VerifyAnomalyResolved
}

// fill sets defaults on a step.
func (s *Step) fill() {
	if s.Verify == "" {
		s.Verify = DefaultVerify(s.Action)
	}
	if s.Deadline == 0 {
		s.Deadline = Duration(60 * time.Second)
	}
	if s.Attempts == 0 {
		s.Attempts = 1
	}
	if s.Action == events.ActionRebalance {
		if s.Bound == 0 {
			s.Bound = 1.2
		}
		if s.WaveFraction == 0 {
			s.WaveFraction = 0.25
		}
		if s.WavePause == 0 {
			s.WavePause = Duration(2 * time.Second)
		}
		if s.MaxWaves == 0 {
			s.MaxWaves = 20
		}
	}
	if s.Action == events.ActionResize && s.RestoreAfter == 0 {
		s.RestoreAfter = Duration(30 * time.Second)
	}
}

// String names the action, its post-condition and deadline.
func (s Step) String() string {
	return fmt.Sprintf("%s(verify=%s, deadline=%s)", s.Action, s.Verify, s.Deadline)
}
