package gate_test

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// flaps records FlapHeals heals of n1 within the window.
func flaps(s *gate.Snapshot) {
	s.Heals = []time.Time{now.Add(-9 * time.Minute), now.Add(-5 * time.Minute), now.Add(-time.Minute)}
}

// degraded makes an open fleet_degraded name nodes.
func degraded(nodes ...string) func(*gate.Snapshot) {
	return func(s *gate.Snapshot) {
		s.Degraded = &events.Anomaly{ID: "fd", Kind: events.KindFleetDegraded, State: events.AnomalyOpen,
			Target: events.FleetTarget, Nodes: nodes, Summary: "RTT up on most nodes"}
	}
}

func policyOf(steps ...string) func(*gate.Snapshot) {
	return func(s *gate.Snapshot) { s.Policy = pol(steps...) }
}

func TestFlapping(t *testing.T) {
	table(t, "flapping", []row{
		{"healed twice", state.Case{}, snap(func(s *gate.Snapshot) { s.Heals = []time.Time{now, now} }), pass},
		{"healed three times long ago", state.Case{},
			snap(func(s *gate.Snapshot) { s.Heals = []time.Time{now.Add(-time.Hour), now.Add(-time.Hour), now} }), pass},
		{"flapping", state.Case{}, snap(flaps),
			want{kind: gate.Escalate, reason: events.SkipFlapping, why: "healed 3 times within 10m0s and failing again", quar: true}},
		{"not a liveness anomaly", state.Case{}, snap(flaps, func(s *gate.Snapshot) { s.Anomaly.Kind = events.KindRTTDegraded }), pass},
		{"held by the fleet: the next gate's", state.Case{}, snap(flaps, degraded("n1", "n2")), pass},
	})
}

func TestFleetHold(t *testing.T) {
	hold := want{kind: gate.Wait, reason: events.SkipFleetDegraded, why: "the fleet is degraded as a whole (RTT up on most nodes) and n1 does not stand out", delay: limits.Wait}
	table(t, "fleet hold", []row{
		{"no quarantine due", state.Case{}, snap(degraded("n1")), pass},
		{"flapping, the fleet names the node", state.Case{}, snap(flaps, degraded("n1", "n2")), hold},
		{"flapping, a fleet anomaly naming no node holds every node", state.Case{}, snap(flaps, degraded()), hold},
		{"flapping in dry-run still waits", state.Case{}, snap(flaps, degraded("n1"), func(s *gate.Snapshot) { s.DryRun = true }), hold},
		{"flapping, the node stands out", state.Case{}, snap(flaps, degraded("n2", "n3")), pass},
		{"flapping, the fleet anomaly resolved", state.Case{},
			snap(flaps, degraded("n1"), func(s *gate.Snapshot) { s.Degraded.State = events.AnomalyResolved }), pass},
		{"the policy quarantines", state.Case{}, snap(policyOf(events.ActionQuarantine), degraded("n1")), hold},
		{"the policy's quarantine is a later step", state.Case{},
			snap(policyOf(events.ActionRestart, events.ActionQuarantine), degraded("n1")), pass},
		{"the policy's quarantine in dry-run is the dry-run gate's", state.Case{},
			snap(policyOf(events.ActionQuarantine), degraded("n1"), func(s *gate.Snapshot) { s.DryRun = true }), pass},
		{"the policy's quarantine past the retry cap is the cap's", state.Case{Failures: 3},
			snap(policyOf(events.ActionQuarantine), degraded("n1")), pass},
	})
}

func TestDryRunAndRetryCap(t *testing.T) {
	table(t, "dry-run", []row{
		{"live", state.Case{}, snap(), pass},
		{"shadow", state.Case{}, snap(func(s *gate.Snapshot) { s.DryRun = true }),
			want{kind: gate.Finish, reason: events.SkipDryRun, dry: true}},
	})
	table(t, "retry cap", []row{
		{"below", state.Case{Failures: 2}, snap(), pass},
		{"at the cap", state.Case{Failures: 3}, snap(),
			want{kind: gate.Escalate, reason: events.SkipRetryCap, why: "3 failed verifications"}},
	})
}

func TestTargets(t *testing.T) {
	table(t, "targets", []row{
		{"the node", state.Case{}, snap(), pass},
		{"a fleet anomaly naming no node", state.Case{}, snap(fleetWide(events.KindStaleSpike)),
			want{kind: gate.Finish, reason: events.SkipNoTarget, why: "the anomaly names no node"}},
		{"a rebalance with three accepting nodes", state.Case{}, snap(policyOf(events.ActionRebalance)), pass},
		{"a rebalance with one accepting node", state.Case{}, snap(policyOf(events.ActionRebalance), func(s *gate.Snapshot) {
			s.HandsOff["n2"], s.Quarantined["n3"] = true, true
		}), want{kind: gate.Finish, reason: events.SkipNoTarget, why: "1 accepting nodes: nothing to rebalance between"}},
		{"an escalation needs no target", state.Case{}, snap(fleetWide(events.KindStaleSpike), policyOf(events.ActionEscalate)), pass},
		{"a follow-up rebalance", state.Case{}, snap(func(s *gate.Snapshot) {
			st := step(events.ActionRebalance)
			s.FollowUp, s.Fleet = &st, s.Fleet[:2]
		}), want{kind: gate.Finish, reason: events.SkipNoTarget, why: "1 accepting nodes"}},
	})
}

func TestBackoff(t *testing.T) {
	tried := func(count int, ago time.Duration) func(*gate.Snapshot) {
		return func(s *gate.Snapshot) {
			s.Backoff[gate.BackoffKey("n1", events.ActionRestart)] = safety.Attempts{Count: count, Last: now.Add(-ago)}
		}
	}
	table(t, "backoff", []row{
		{"never tried", state.Case{}, snap(), pass},
		{"tried twice, 5s ago", state.Case{}, snap(tried(2, 5*time.Second)),
			want{kind: gate.Wait, reason: events.SkipCooldown, why: "restart on n1 backs off for 15s after 2 attempts", delay: 15 * time.Second}},
		{"tried once, long enough ago", state.Case{}, snap(tried(1, 11*time.Second)), pass},
		{"another action's attempts", state.Case{}, snap(tried(2, 5*time.Second), policyOf(events.ActionDrain)), pass},
		{"an attempt resumed after a replica died", state.Case{Current: 1, Attempts: 1}, snap(tried(2, 5*time.Second)), pass},
	})
}

func TestBlastRadius(t *testing.T) {
	draining := func(s *gate.Snapshot) { s.Fleet[2].Draining = true }
	refused := want{kind: gate.Wait, reason: events.SkipBlast, why: "restart n1 refused: it would put 2 of 4 nodes out", delay: limits.Wait, alarm: true}
	table(t, "blast radius", []row{
		{"one node out", state.Case{}, snap(), pass},
		{"two of four out", state.Case{}, snap(draining), refused},
		{"already said so", state.Case{LastSkip: events.SkipBlast}, snap(draining),
			want{kind: gate.Wait, reason: events.SkipBlast, why: refused.why, delay: limits.Wait}},
		{"a reconnect takes no node out", state.Case{}, snap(draining, policyOf(events.ActionReconnect)), pass},
		{"a resumed restart", state.Case{Current: 1, Attempts: 1}, snap(draining), pass},
	})
}

func TestBudget(t *testing.T) {
	spent := func(s *gate.Snapshot) { s.Budget = safety.Tokens{Level: 0.5, At: now} }
	table(t, "budget", []row{
		{"full", state.Case{}, snap(), pass},
		{"spent", state.Case{}, snap(spent),
			want{kind: gate.Wait, reason: events.SkipBudget, why: "the global action budget is spent", delay: 5 * time.Second}},
		{"a resumed attempt spent its token", state.Case{Current: 2, Attempts: 2}, snap(spent), pass},
		{"an escalation spends none", state.Case{}, snap(spent, policyOf(events.ActionEscalate)), pass},
	})
}

func TestRunStopsAtTheFirstGateThatStops(t *testing.T) {
	p := gate.Pipeline(limits)
	s := snap(func(s *gate.Snapshot) { s.Paused, s.DryRun = true, true }, flaps)
	v := gate.Run(p, state.Case{}, s)
	if v.Kind != gate.Wait || v.Gate != "pause" || v.Reason != events.SkipPaused {
		t.Fatalf("verdict %+v, want the pause gate's", v)
	}
	if !v.Passed("policy") || !v.Passed("panic") || v.Passed("pause") || v.Passed("dry-run") {
		t.Fatal("Passed does not follow the order")
	}
	if v := gate.Run(p, state.Case{}, snap()); v.Kind != gate.Continue || v.Gate != "" || !v.Passed("budget") {
		t.Fatalf("a case every gate lets through: %+v", v)
	}
	follow := step(events.ActionReconnect)
	s = snap(func(s *gate.Snapshot) { s.Paused, s.FollowUp = true, &follow })
	if v := gate.Run(gate.Actions(p), state.Case{}, s); v.Kind != gate.Continue {
		t.Fatalf("a follow-up passes only the action gates, got %+v", v)
	}
	if names := gate.Actions(p); len(names) != 7 || names[0].Name != gate.FirstActionGate {
		t.Fatalf("action gates %v", names)
	}
}

func TestNextResumesTheAttemptInFlight(t *testing.T) {
	s := snap(policyOf(events.ActionReconnect, events.ActionRestart))
	if st, n, resumed, ok := gate.Next(state.Case{Attempts: 1}, s); !ok || resumed || n != 2 || st.Action != events.ActionRestart {
		t.Fatalf("next %v %d %v %v", st.Action, n, resumed, ok)
	}
	if st, n, resumed, _ := gate.Next(state.Case{Attempts: 1, Current: 1}, s); !resumed || n != 1 || st.Action != events.ActionReconnect {
		t.Fatalf("resumed %v %d %v", st.Action, n, resumed)
	}
	if _, _, _, ok := gate.Next(state.Case{}, snap(func(s *gate.Snapshot) { s.Policy = nil })); ok {
		t.Fatal("a step without a policy")
	}
}
