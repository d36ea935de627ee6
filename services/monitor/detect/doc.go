// Package detect holds the monitor's detectors. Each is a small type fed
// with samples (heartbeats, health snapshots, fleet rounds) and the time
// they carry; it answers with a Transition when an anomaly fires or
// clears. Detectors do no I/O and read no clock, so the same series of
// samples always gives the same transitions: two monitor replicas fed the
// same events agree, and tests replay generated series.
//
// Hysteresis everywhere: a detector fires after FireAfter consecutive bad
// samples and clears after ClearAfter consecutive good ones, and the
// thresholds to enter and to leave differ, so a value hovering at a
// threshold does not toggle (a sample between the two thresholds is
// neither good nor bad: it holds the current state).
//
// Defaults (every one configurable through the monitor's Config):
//
//	liveness    suspect after 2 missed heartbeats, down after 3, 3 on-time heartbeats to recover
//	panic       more than 50 % of the fleet and at least 3 nodes newly silent; clears after 3 good checks
//	rtt         p99 >= 2x its EWMA baseline (alpha 0.2, warm-up 5 snapshots) and +20 ms, or a fleet
//	            outlier (>= mean + 3 sd of at least 3 other nodes, and +20 ms); leaves below 1.5x / 2 sd
//	stale       stale closes >= 5 % of connections (and >= 5) per interval; leaves below 2 %
//	slow        slow consumers >= 5 per interval; leaves at <= 1
//	errors      errors >= 5/s; leaves below 1/s
//	saturation  max(conns/capacity, backlog/100000, heap/1 GiB) >= 0.9; leaves below 0.8
//	storm       fleet accept rate >= 500/s or rejected upgrades >= 50/s; leaves below 250/s and 10/s
//	imbalance   max/mean connections >= 1.5 with the hottest >= 5 above the mean, over >= 2 nodes;
//	            leaves below 1.2 (or under 2.5 above the mean): relative, so a fleet of any size balances
//	flapping    >= 6 entries of a node into suspect, down or degraded in 5 min; leaves at <= 2;
//	            an entry counts after 5 s, and not if the fleet shared a lapse within 5 s of it
//	dp errors   failed subscribes+publishes >= 20 % of those answered (and >= 5); leaves below 5 %
//	not recov.  resumes answered recovered:false >= 50 % (and >= 5); leaves below 10 %
//	store_full  store used / limit or stream bytes / max bytes >= 0.9 on any node; leaves below 0.8
//	consumers   consumers / limit or channels / limit >= 0.9 on any node; leaves below 0.8
//	saturated   fleet_saturated: connections / capacity of the active, non-draining nodes >= 0.8
//	            for 20 s (rounds in between the thresholds break the run); leaves below 0.7
//	underused   fleet_underused: the same <= 0.3 for 2 min with >= 2 nodes; leaves above 0.4;
//	            a change in the number of nodes ends either and starts its window afresh
//	fleet       a correlated kind degraded, with a bad latest sample, on more than 50 % of the
//	            active nodes and on >= 2; clears after 2 fleet rounds in a row with no kind bad
//	            on a shared set and no shared heartbeat lapse (about 10 s after peers are well)
//
// # Correlation before remediation
//
// A node anomaly says "this node is sick"; the healer restarts, drains or
// reconnects it. That is right only when the node stands out from healthy
// peers. When most of the fleet degrades at once (host CPU steal, a
// network brown-out, a slow NATS), every node looks sick against its own
// baseline, and healing them adds load where it hurts most.
//
// So the kinds several nodes can show at once for one cause (Correlated:
// rtt_degraded, stale_spike, slow_consumers, error_rate, node_hung,
// data_plane_errors, not_recovered) are compared across the fleet. Each
// node detector tells whether a node is degraded (its gate fires, or it
// is one bad sample short of firing; a lone bad sample does not count). The rule, like Envoy outlier
// detection's max_ejection_percent, is FLEET_SHARE (0.5) and
// FLEET_MIN_NODES (2):
//
//   - a kind degraded on more than FLEET_SHARE of the active nodes, and on
//     at least FLEET_MIN_NODES, is the fleet's: one fleet_degraded anomaly
//     (target fleet, severity warning) names the kinds and the nodes. The
//     healer's policy only escalates it: it pages or informs, and never
//     restarts, drains, reconnects, quarantines or rebalances.
//   - while a kind is shared, and as long as fleet_degraded fires (the
//     fleet's own recent past), node verdicts of correlated kinds are
//     held. A held verdict opens as a node anomaly once the fleet is
//     healthy again and the node still fires with a bad latest sample: then
//     it stands out from healthy peers. A verdict that clears while held is
//     dropped.
//   - hysteresis of fleet_degraded: it enters on nodes that are degraded
//     and bad in their latest sample (a detector still firing on good
//     samples is a node on its way back), and leaves after
//     FLEET_CLEAR_AFTER (2) fleet rounds in a row in which no kind's
//     latest samples are bad on a shared set and the fleet shared no
//     heartbeat lapse: about 10 s after peers are healthy, while a stall
//     of the whole fleet every few seconds keeps it open. An RTT snapshot
//     from fewer than RTT_MIN_PONGS pongs (the clients still away after a
//     stall) is no bad sample: the node's RTT verdict stands, but it is not
//     bad now, so the last sample of the stall does not keep the fleet
//     degraded until the clients are back. The node
//     detectors keep their own hysteresis, so held verdicts stay held until
//     their kind is no longer shared.
//   - a node hung while most of the fleet misses heartbeats too gets no
//     node_hung.
//   - flapping: an entry of a node into suspect, down or degraded counts
//     only after FLAP_SETTLE (5 s), and not at all if the fleet shared a
//     heartbeat lapse, fleet_degraded or fleet_silent within FLAP_SETTLE of
//     it (the nodes of a stalled host fall late one after the other within
//     a beat interval, so the first cannot know at once). A dead process
//     (node_down) counts at once. The healer, for its part, decides no
//     quarantine of a node that the open fleet_degraded names.
//   - state: the held verdicts are kept under "held" in wsheal_monitor, and
//     fleet_degraded is an open anomaly there too, so a restarted monitor
//     or another replica holds what was held.
//
// With 3 nodes, one sick node is healed and two are the fleet's; with 2
// nodes, one is healed and both are the fleet's; with 10 nodes, up to 5
// are healed at once.
package detect
