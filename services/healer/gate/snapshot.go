package gate

import (
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// Snapshot is everything the gates read for one delivery, read once by
// the engine before the pipeline runs. The gates read nothing else.
type Snapshot struct {
	// Anomaly is the delivered anomaly.
	Anomaly *events.Anomaly
	// Now is the engine's clock (injected; time.Now by default).
	Now time.Time
	// Fleet is the healer's fleet view at the time of the read.
	Fleet []fleet.Node
	// Resolved: the anomaly, or a later one of its kind and target,
	// resolved (the last event on its subject says so).
	Resolved bool
	// Panicking: the shared panic state is set.
	Panicking bool
	// Policy is the first policy for the anomaly's kind and severity.
	Policy *policy.Policy
	// Paused and DryRun are the shared switches.
	Paused, DryRun bool
	// HandsOff and Quarantined hold the locked and quarantined nodes among
	// the fleet's and the anomaly's.
	HandsOff, Quarantined map[string]bool
	// Heals are the recorded heals of the anomaly's target (read for the
	// liveness anomalies only: the others are not checked for flapping).
	Heals []time.Time
	// Degraded is the last fleet_degraded event, nil when none.
	Degraded *events.Anomaly
	// Backoff holds the attempts of (target, action), by BackoffKey, for
	// the targets of the step the action gates check.
	Backoff map[string]safety.Attempts
	// Budget is the shared action budget as stored.
	Budget safety.Tokens
	// FollowUp, when set, is the policy's follow-up step the action gates
	// check, instead of the ladder's next step.
	FollowUp *policy.Step
	// Records holds the record of the policy's remedies for the anomaly's
	// kind and target class, by remedy name (package record).
	Records map[string]events.RemedyRecord
	// Learn tunes the choice of the ladder's order (Choose).
	Learn Learn
}

// BackoffKey is the Snapshot.Backoff key of (target, action).
func BackoffKey(target, action string) string { return target + " " + action }

// Next is the step the action gates check and the engine carries out:
// the follow-up, or the ladder's step (in the case's order, Ladder) of the attempt in flight (resumed,
// after a replica died during it) or of the next attempt. ok is false
// without a policy.
func Next(c state.Case, s Snapshot) (step policy.Step, n int, resumed, ok bool) {
	if s.FollowUp != nil {
		return *s.FollowUp, 0, false, true
	}
	if s.Policy == nil {
		return policy.Step{}, 0, false, false
	}
	n, resumed = c.Current, c.Current != 0
	if !resumed {
		n = c.Attempts + 1
	}
	p, _ := Ladder(c, s)
	return p.StepFor(n), n, resumed, true
}

// Targets resolves a step's targets from the snapshot; an empty set comes
// with why.
func Targets(s Snapshot, step policy.Step) ([]string, string) {
	switch step.Action {
	case events.ActionScale:
		return []string{events.FleetTarget}, ""
	case events.ActionRebalance:
		if n := len(Loads(s)); n < 2 {
			return nil, fmt.Sprintf("%d accepting nodes: nothing to rebalance between", n)
		}
		return []string{events.FleetTarget}, ""
	case events.ActionWebhook:
		return []string{s.Anomaly.Target}, ""
	}
	ns := NodeTargets(s.Anomaly)
	if len(ns) == 0 {
		return nil, "the anomaly names no node: an empty target set means no action"
	}
	return ns, ""
}

// Loads lists the nodes a rebalance may use: accepting, neither locked
// nor quarantined.
func Loads(s Snapshot) []fleet.Node {
	var out []fleet.Node
	for _, n := range s.Fleet {
		if n.Accepting() && !s.HandsOff[n.ID] && !s.Quarantined[n.ID] {
			out = append(out, n)
		}
	}
	return out
}

// NodeTargets are the nodes an anomaly names: its target, or for a
// fleet-wide anomaly its nodes. Never "everything".
func NodeTargets(an *events.Anomaly) []string {
	if an.Target != events.FleetTarget {
		return []string{an.Target}
	}
	return an.Nodes
}

// Liveness: a node that died or hung. Only these count as heals for flap
// detection, and only these are checked for flapping: a node healed of
// them again and again keeps failing.
func Liveness(an *events.Anomaly) bool {
	return an.Target != events.FleetTarget && (an.Kind == events.KindNodeDown || an.Kind == events.KindNodeHung)
}

// TakesOut: actions that put a node out of service while they run.
func TakesOut(action string) bool {
	return action == events.ActionDrain || action == events.ActionRestart || action == events.ActionQuarantine
}

// acts: a step the action gates hold back (escalate and quarantine are
// not actions on a target; the engine carries them out at once).
func acts(step policy.Step) bool {
	return step.Action != events.ActionEscalate && step.Action != events.ActionQuarantine
}
