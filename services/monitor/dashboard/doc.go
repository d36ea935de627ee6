// Package dashboard is the monitor's live web console: a fleet table with
// each node's state, a chart of connections per node over time, RTT p99
// and stale counts, a live event feed, incidents with their timelines and
// reviews, the healer's switches and recent actions, and its record: what
// each remedy did for each anomaly kind.
//
// It is decoupled from the monitor's internals: everything it shows comes
// from NATS, exactly as `nats sub` and `nats req` would see it. It
// subscribes to the gateway heartbeats and health snapshots (kept in
// rings server-side, so a page opened now shows the last minutes), to the
// anomaly, remediation, incident, review and lifecycle events (the feed),
// and asks the monitor, notifier and healer over their control verbs.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary (no
// build step); live updates arrive over Server-Sent Events on
// /dash/stream, and the browser's EventSource reconnects by itself when
// the stream is lost.
//
// Routes (below the prefix the handler is mounted on, "/" in the monitor):
//
//	GET /                      the console (index.html)
//	GET /assets/...            CSS and JavaScript
//	GET /dash/stream           SSE: tick, feed, incident
//	GET /dash/snapshot         rings and feed for a fresh page
//	GET /dash/fleet            events.FleetStatus from the monitor
//	GET /dash/nodes/{node}     events.NodeDetail (state history, anomalies)
//	GET /dash/incidents        events.IncidentList from the notifier
//	GET /dash/incidents/{id}   the incident with its timeline and review
//	GET /dash/healer           the healer's status and recent actions
//	GET /dash/records          the healer's record per (kind, class, remedy)
package dashboard
