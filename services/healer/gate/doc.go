// Package gate is the healer's decision, as a pipeline of gates: each gate
// is a pure function of the case (state.Case, the healer's progress on one
// anomaly) and a Snapshot of everything it may read, and returns a
// Verdict: continue, finish (skip reason and why), wait (with a delay) or
// escalate (with a reason).
//
// What the pipeline guarantees:
//
//   - The gates run in one order, written once (Pipeline), the order of
//     the table in the healer's package documentation; a test keeps the
//     two equal. The first verdict other than continue is the answer.
//   - A gate reads only its case and the snapshot, which the engine reads
//     once per delivery (fleet view, locks and quarantines, switches,
//     panic state, backoff counters, budget level, the last
//     fleet_degraded, and the time from the engine's clock). Gates do no
//     I/O, keep no state and never sleep, so each is tested alone.
//   - A gate writes nothing. The engine carries out the verdict (events,
//     bucket writes, the negative acknowledgement with a delay) in one
//     place after the pipeline; the only write that a gate's reading
//     stands for is the budget token, spent by the engine with a revision
//     check, and a token another replica took in between holds the action
//     as the budget gate would (BudgetSpent).
//   - The last gates (Actions: targets, the three scale gates, backoff,
//     blast radius, budget) hold back one action: they also run alone
//     before each try of a policy's follow-up step (Snapshot.FollowUp). An
//     attempt resumed after a replica died during it has passed them
//     already, and passes.
//   - A scale-in only removes a node from a fleet at rest (every node
//     healthy, none draining, quarantined or locked, no fleet_degraded
//     open: it waits for that first); a scale never takes the fleet past
//     Limits.Scale (Max known nodes after a scale-out, Min accepting
//     nodes after a scale-in) and never comes within its cooldown of the
//     fleet's last scale.
package gate
