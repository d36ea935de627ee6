package gate_test

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

var scaleLimits = func() gate.Limits {
	l := limits
	l.Scale = gate.Scale{Min: 2, Max: 5, Cooldown: 2 * time.Minute, InCooldown: 5 * time.Minute}
	return l
}()

// scaleSnap is a delivery of a capacity anomaly on the fleet of four
// healthy nodes, with a policy that scales by by.
func scaleSnap(by int, edit ...func(*gate.Snapshot)) gate.Snapshot {
	kind := events.KindFleetSaturated
	if by < 0 {
		kind = events.KindFleetUnderused
	}
	s := snap(func(s *gate.Snapshot) {
		s.Anomaly = &events.Anomaly{ID: kind + "-fleet-1", Kind: kind, State: events.AnomalyOpen, Target: events.FleetTarget,
			Nodes: []string{"n1", "n2", "n3", "n4"}, Severity: events.SeverityWarning, DetectedAt: now.Add(-time.Minute)}
		s.Fleet = []fleet.Node{node("n1", true), node("n2", true), node("n3", true), node("n4", true)}
		s.Policy = &policy.Policy{Name: "scale", Kinds: []string{kind},
			Actions: []policy.Step{{Action: events.ActionScale, Scale: by, Verify: policy.VerifyScaled, Deadline: policy.Duration(time.Minute), Attempts: 1}}}
	})
	for _, e := range edit {
		e(&s)
	}
	return s
}

func checkScale(t *testing.T, name string, c state.Case, s gate.Snapshot) gate.Verdict {
	t.Helper()
	for _, g := range gate.Pipeline(scaleLimits) {
		if g.Name == name {
			return g.Check(c, s)
		}
	}
	t.Fatalf("no gate %q", name)
	return gate.Verdict{}
}

func scaleTable(t *testing.T, gateName string, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { r.want.match(t, gateName, checkScale(t, gateName, r.c, r.s)) })
	}
}

func fleetOf(n int) func(*gate.Snapshot) {
	return func(s *gate.Snapshot) {
		s.Fleet = nil
		for i := range n {
			s.Fleet = append(s.Fleet, node(string(rune('a'+i)), true))
		}
	}
}

func TestScaleBounds(t *testing.T) {
	resumed := state.Case{Current: 1, Attempts: 1}
	scaleTable(t, "scale bounds", []row{
		{"a node more within the maximum", state.Case{}, scaleSnap(+1), pass},
		{"at the maximum: a person must know", state.Case{}, scaleSnap(+1, fleetOf(5)),
			want{kind: gate.Finish, reason: events.SkipScaleBounds, why: "the fleet has 5 nodes and WSHEAL_HEALER_SCALE_MAX is 5", alarm: true}},
		{"a dead node counts toward the maximum", state.Case{}, scaleSnap(+1, fleetOf(5), func(s *gate.Snapshot) { s.Fleet[0].Healthy = false }),
			want{kind: gate.Finish, reason: events.SkipScaleBounds, why: "has 5 nodes", alarm: true}},
		{"a node fewer above the minimum", state.Case{}, scaleSnap(-1), pass},
		{"at the minimum", state.Case{}, scaleSnap(-1, fleetOf(2)),
			want{kind: gate.Finish, reason: events.SkipScaleBounds, why: "2 nodes accept clients and WSHEAL_HEALER_SCALE_MIN is 2"}},
		{"a draining node does not count toward the minimum", state.Case{}, scaleSnap(-1, fleetOf(3), func(s *gate.Snapshot) { s.Fleet[2].Draining = true }),
			want{kind: gate.Finish, reason: events.SkipScaleBounds, why: "2 nodes accept clients"}},
		{"a resumed attempt passed the bounds when it began", resumed, scaleSnap(+1, fleetOf(6)), pass},
		{"not a scale", state.Case{}, snap(fleetOf(9)), pass},
	})
}

func TestScaleHold(t *testing.T) {
	scaleTable(t, "scale hold", []row{
		{"a fleet at rest", state.Case{}, scaleSnap(-1), pass},
		{"a scale-out is never held", state.Case{}, scaleSnap(+1, func(s *gate.Snapshot) { s.Fleet[1].Healthy = false }), pass},
		{"a node unhealthy", state.Case{}, scaleSnap(-1, func(s *gate.Snapshot) { s.Fleet[1].Healthy = false }),
			want{kind: gate.Wait, reason: events.SkipScaleHold, why: "node n2 is not healthy: no node is removed until it is over", delay: limits.Wait}},
		{"a hands-off lock (a rollout)", state.Case{}, scaleSnap(-1, func(s *gate.Snapshot) { s.HandsOff["n3"] = true }),
			want{kind: gate.Wait, reason: events.SkipScaleHold, why: "node n3 is under a hands-off lock (a rollout holds one)", delay: limits.Wait}},
		{"a node draining", state.Case{}, scaleSnap(-1, func(s *gate.Snapshot) { s.Fleet[3].Draining = true }),
			want{kind: gate.Wait, reason: events.SkipScaleHold, why: "node n4 is draining", delay: limits.Wait}},
		{"a quarantine", state.Case{}, scaleSnap(-1, func(s *gate.Snapshot) { s.Quarantined["n1"] = true }),
			want{kind: gate.Wait, reason: events.SkipScaleHold, why: "node n1 is quarantined", delay: limits.Wait}},
		{"the fleet degraded", state.Case{}, scaleSnap(-1, degraded("n1", "n2")),
			want{kind: gate.Wait, reason: events.SkipScaleHold, why: "the fleet is degraded as a whole (RTT up on most nodes)", delay: limits.Wait}},
		{"fleet_degraded resolved", state.Case{}, scaleSnap(-1, degraded("n1", "n2"), func(s *gate.Snapshot) { s.Degraded.State = events.AnomalyResolved }), pass},
	})
}

func TestScaleCooldown(t *testing.T) {
	scaled := func(ago time.Duration) func(*gate.Snapshot) {
		return func(s *gate.Snapshot) {
			s.Backoff[gate.BackoffKey(events.FleetTarget, events.ActionScale)] = safety.Attempts{Count: 1, Last: now.Add(-ago)}
		}
	}
	scaleTable(t, "scale cooldown", []row{
		{"never scaled", state.Case{}, scaleSnap(+1), pass},
		{"a scale-out past the cooldown", state.Case{}, scaleSnap(+1, scaled(2*time.Minute)), pass},
		{"a scale-out within it", state.Case{}, scaleSnap(+1, scaled(30*time.Second)),
			want{kind: gate.Wait, reason: events.SkipScaleCooldown, why: "the fleet was scaled 30s ago and WSHEAL_HEALER_SCALE_COOLDOWN is 2m0s: the next scale in 1m30s", delay: 90 * time.Second}},
		{"a scale-in waits longer", state.Case{}, scaleSnap(-1, scaled(3*time.Minute)),
			want{kind: gate.Wait, reason: events.SkipScaleCooldown, why: "WSHEAL_HEALER_SCALE_IN_COOLDOWN is 5m0s: the next scale in 2m0s", delay: 2 * time.Minute}},
		{"a scale-in past its cooldown", state.Case{}, scaleSnap(-1, scaled(5*time.Minute)), pass},
		{"a resumed attempt", state.Case{Current: 1, Attempts: 1}, scaleSnap(+1, scaled(time.Second)), pass},
	})
}

// The node a scale-in removes: the fewest connections, then the newest,
// never one locked, quarantined or draining.
func TestScaleInNode(t *testing.T) {
	s := scaleSnap(-1, func(s *gate.Snapshot) {
		s.Fleet[0].Connections, s.Fleet[1].Connections, s.Fleet[2].Connections, s.Fleet[3].Connections = 3, 5, 3, 1
		s.Fleet[0].StartedAt, s.Fleet[2].StartedAt = now.Add(-time.Hour), now.Add(-time.Minute)
	})
	if n, ok := gate.ScaleInNode(s); !ok || n.ID != "n4" {
		t.Fatalf("removes %s, want n4 (1 connection)", n.ID)
	}
	s.HandsOff["n4"] = true
	if n, _ := gate.ScaleInNode(s); n.ID != "n3" {
		t.Fatalf("removes %s, want n3 (3 connections, started after n1)", n.ID)
	}
	s.Fleet[2].Draining = true
	if n, _ := gate.ScaleInNode(s); n.ID != "n1" {
		t.Fatalf("removes %s, want n1", n.ID)
	}
	if _, ok := gate.ScaleInNode(gate.Snapshot{}); ok {
		t.Fatal("a node chosen from an empty fleet")
	}
}

// A scale goes through the whole pipeline when nothing holds it, and its
// target is the fleet.
func TestScaleThroughThePipeline(t *testing.T) {
	s := scaleSnap(+1)
	if v := gate.Run(gate.Pipeline(scaleLimits), state.Case{}, s); v.Kind != gate.Continue {
		t.Fatalf("verdict %+v", v)
	}
	if ts, _ := gate.Targets(s, s.Policy.Actions[0]); len(ts) != 1 || ts[0] != events.FleetTarget {
		t.Fatalf("targets %v", ts)
	}
	s.HandsOff["n2"] = true // the anomaly names the fleet's nodes: a lock on one holds every remedy
	if v := gate.Run(gate.Pipeline(scaleLimits), state.Case{}, s); v.Gate != "hands-off" {
		t.Fatalf("verdict %+v, want the hands-off gate's", v)
	}
}
