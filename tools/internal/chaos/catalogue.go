package chaos

import (
	"fmt"
	"strings"
)

// ErrUnknown is returned for a scenario name not in the catalogue.
var ErrUnknown = fmt.Errorf("chaos: unknown scenario")

// Scenarios is the catalogue, in the order --all runs it.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "crash", Title: "gateway crash (kill -9)", Run: crash,
			Expect: "detected, restarted, clients rehomed and resumed, nothing lost, incident resolved with a review, nobody paged"},
		{Name: "hang", Title: "gateway hang (SIGSTOP)", Run: hang,
			Expect: "detected by missed heartbeats, node replaced, clients rehomed, nothing lost, review written"},
		{Name: "half-open", Title: "half-open clients (never answer pings)", Run: halfOpen,
			Expect: "closed as stale (4000) within ping interval + pong deadline and counted"},
		{Name: "slow", Title: "slow consumers (never read while traffic flows)", Run: slow,
			Expect: "closed with 4002, the node's memory bounded, nothing lost for the others"},
		{Name: "overload", Title: "overload of one node (connect flood)", Run: overload,
			Expect: "admission answers 503, the node keeps serving; the healer may lower admission"},
		{Name: "storm", Title: "reconnect storm (every client at once)", Run: storm,
			Expect: "accept rate capped, every client back, no node tips over, nothing lost"},
		{Name: "nats-node", Title: "one NATS node lost", Run: natsNode,
			Expect: "services reconnect to the other servers, nothing lost"},
		{Name: "control-plane", Title: "monitor, healer and notifier killed mid-incident", Run: controlPlane,
			Expect: "a replica or the restarted process carries on: the incident resolves and its review exists"},
		{Name: "hopeless", Title: "a remediation that cannot work (restart fails to bind)", Run: hopeless,
			Expect: "at most the retry cap of restarts, then escalation and a page; no loop"},
		{Name: "flapping", Title: "flapping node (killed each time it comes back)", Run: flapping,
			Expect: "quarantined and escalated, not healed forever"},
		{Name: "rolling", Title: "rolling restart of every gateway", Run: rolling,
			Expect: "drain, restart, wait healthy, next; nothing lost; ends balanced (max/mean <= 1.2)"},
		{Name: "slowdown", Title: "every gateway slowed at once (CPU hog and simultaneous SIGSTOP/SIGCONT stalls)", Run: slowdown,
			Expect: "zero restarts, drains, reconnects, quarantines or rebalances; one fleet-level anomaly (fleet_degraded); at most one incident"},
		{Name: "one-slow", Title: "one gateway slowed alone (its process stopped 150 ms of every 200 ms)", Run: oneSlow,
			Expect: "a node anomaly on it and a node remedy within 90 s; no fleet anomaly; its healthy peers left alone"},
		{Name: "hang-then-thaw", Title: "gateway hung, its old process continued when the restart is requested", Run: hangThenThaw,
			Expect: "restarted; the verify names the new process (boot), not the thawed one; back within max/mean <= 1.2, no ping-pong"},
		{Name: "small-fleet", Title: "gateway crash with 60 clients on the fleet", Run: smallFleet, Clients: smallFleetClients,
			Expect: "restarted; the fleet converges to max/mean <= 1.2 and stays there (no ping-pong)"},
		{Name: "store-full", Title: "channel store driven to its limit", Run: storeFull,
			Expect: "store_full names the store; a gateway killed meanwhile is still restarted (needs Health.DataPlane limits)"},
	}
}

// Lookup returns the named scenarios, in the order given.
func Lookup(names []string) ([]Scenario, error) {
	all := map[string]Scenario{}
	var known []string
	for _, s := range Scenarios() {
		all[s.Name] = s
		known = append(known, s.Name)
	}
	out := make([]Scenario, 0, len(names))
	for _, n := range names {
		s, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknown, n, strings.Join(known, ", "))
		}
		out = append(out, s)
	}
	return out, nil
}
