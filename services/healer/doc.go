// Package healer is the wsheal healer service: it takes the monitor's
// anomalies from a durable JetStream consumer shared by every replica,
// decides by policy, acts through gateway commands, container restarts
// and runbook webhooks, verifies that each action worked, and escalates
// when it did not.
//
// One delivery of an open anomaly goes through these gates, in order
// (package gate builds them in this order, and a test keeps the two
// equal); the first that stops publishes a Remediation event saying why.
// Each gate is a pure function of the case (the healer's progress on the
// anomaly, state.Case) and a snapshot read once per delivery: the fleet
// view, locks, quarantines, switches, panic state, backoff counters,
// budget level, the last fleet_degraded and the time from the engine's
// clock. The engine carries out the verdict (events and writes) in one
// place after the gates:
//
//	resolved      the anomaly resolved meanwhile             skipped(resolved), done
//	panic         fleet_silent, or more than PANIC_SHARE of   escalate once, skipped(panic),
//	              the fleet silent                           wait
//	max age       open longer than MAX_AGE                    escalate, done
//	policy        no policy for kind and severity             skipped(no-policy), done
//	pause         the healer is paused                        skipped(paused), wait
//	hands-off     the node is locked                          skipped(hands-off), done
//	quarantine    the node is quarantined                     skipped(flapping), done
//	flapping      healed FLAP_HEALS times within FLAP_WINDOW  drain, leave out, escalate
//	fleet hold    a quarantine (the flap gate's, or a policy  skipped(fleet-degraded), wait
//	              step's) of a node the open fleet_degraded
//	              names: it does not stand out from its peers
//	dry-run       shadow mode                                 skipped(dry-run) per step, done
//	retry cap     RETRY_CAP failed verifications              escalate with what was tried
//	targets       an empty target set                         skipped(no-target), done
//	scale hold    a scale-in while a node is unhealthy,       skipped(scale-hold), wait
//	              draining, quarantined or under hands-off
//	              (a rollout holds one), or fleet_degraded
//	scale bounds  a scale-out past SCALE_MAX known nodes, or  skipped(scale-bounds), done
//	              a scale-in below SCALE_MIN accepting nodes  (escalate at the maximum)
//	scale cooldown  within SCALE_COOLDOWN (a scale-in:        skipped(scale-cooldown), wait
//	              SCALE_IN_COOLDOWN) of the fleet's last scale
//	backoff       (target, action) backs off                  skipped(cooldown), wait
//	blast radius  too much of the fleet out after the action  skipped(blast-radius), escalate, wait
//	budget        the shared token bucket is empty            skipped(budget), wait
//
// Then the attempt is recorded in the healer bucket (so that a replica
// taking over resumes it with the same command ids), announced as
// requested and started, carried out, and its post-condition polled until
// the step's deadline: succeeded (then the policy's follow-up steps), or
// failed and retried with backoff on a later delivery. Waiting is a
// negative acknowledgement with a delay; a message is acknowledged only
// once its decision is durable, and kept alive with InProgress while a
// long action runs.
//
// A restart holds only once the node beats from a new process: every
// heartbeat carries the process identity (events.Heartbeat.Boot), the
// attempt records the identity before it acts, and heartbeats of a thawed
// old process do not pass; the succeeded event names the new process, and
// the follow-up steps (rebalance, undrain) run only after it. A follow-up
// blocked by a gate waits for it, and one that fails is tried again after
// the action's backoff, up to RETRY_CAP runs, each with its own command id
// (a rebalance refused while the fleet still moves would otherwise leave
// the restarted node empty). A rebalance plans each wave only once the
// last one shows in the heartbeats (package rebalance). A policy for
// fleet_degraded (a shift the whole fleet shares) may only escalate or
// call a webhook: the validator refuses node actions for it. A replica
// runs one rebalance at a time (a restart's follow-up and an imbalance
// policy planning from the same moving counts would overshoot); the
// second reads the fleet afresh when the first is done.
//
// The healer learns (package record, gate.Choose): the end of every
// attempt of a ladder step is added to the record of its (anomaly kind,
// remedy, target class) in the wsheal_healer_record bucket, with a
// revision check so that replicas never lose an update: attempts,
// successes, failures by reason (error, deadline), time to verify (fixed
// buckets), time wasted by failures, clients moved, pages, the last ten
// outcomes. When a case's first attempt begins, the record orders the
// policy's ladder: a remedy that failed DEMOTE_AFTER times in a row goes
// last, then the higher Laplace-smoothed success rate
// (successes+1)/(attempts+2) first, then the shorter median time to
// verify, then the remedy that takes no node out; one case in
// EXPLORE_EVERY (a hash of the anomaly id, so replicas agree) tries the
// least-tried other remedy first. The order is saved in the case, so every
// attempt of the case walks it; the requested event carries it and the
// figures it came from (events.RemedyChoice). A policy with order: pinned
// keeps its ladder as written. The choice only reorders what the policy
// allows; every gate still holds every step.
//
// Every decision reads the engine's clock (Service.SetClock; time.Now by
// default), so tests move time instead of sleeping: the gates, the fleet
// view (heartbeats are stamped with it, snapshots taken at its time, and
// a node is healthy within events.StaleAfter of its heartbeat interval),
// an action's deadline, the verify windows and the record's time taken.
// Only the waits themselves (polls, pauses, a command's timeout) run on
// timers, and the time a drain took, written in a detail, is measured
// on the monotonic clock.
package healer
