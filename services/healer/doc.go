// Package healer is the wsheal healer service: it takes the monitor's
// anomalies from a durable JetStream consumer shared by every replica,
// decides by policy, acts through gateway commands, container restarts
// and runbook webhooks, verifies that each action worked, and escalates
// when it did not.
//
// One delivery of an open anomaly goes through these gates, in order; the
// first that stops publishes a Remediation event saying why:
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
//	dry-run       shadow mode                                 skipped(dry-run) per step, done
//	retry cap     RETRY_CAP failed verifications              escalate with what was tried
//	targets       an empty target set                         skipped(no-target), done
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
// the follow-up steps (rebalance, undrain) run only after it. A policy for
// fleet_degraded (a shift the whole fleet shares) may only escalate or
// call a webhook: the validator refuses node actions for it.
//
// Every gate reads the engine's clock (Service.SetClock; time.Now by
// default), so tests move time instead of sleeping.
package healer
