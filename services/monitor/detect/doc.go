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
//	imbalance   max/mean connections >= 1.5 with max >= 100 over >= 2 nodes; leaves below 1.2
//	flapping    >= 6 entries of a node into suspect, down or degraded in 5 min; leaves at <= 2
package detect
