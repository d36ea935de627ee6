// Package chaos is `wsheal chaos`: named faults injected into a running
// stack (`wsheal dev`) under a steady client load, each checked against
// what the system must do about it, and a report (Markdown, JSON and an
// SVG chart) of time to detect, to remediate and until every client is
// back and resumed, messages lost and duplicated, the reconnect rate the
// surviving nodes saw, whether a human was paged, and the incident and
// review it produced. Everything is observed over NATS (wsheal.evt.> and
// the services' control verbs); no log is read.
package chaos
