// Package notifier is the wsheal notifier service: it opens incidents from
// the monitor's anomalies, follows the healer's remediations, pages people
// only when healing fails or a severity demands it, escalates until
// someone acknowledges, and writes the post-incident review.
//
// Inputs: anomalies (stream WSHEAL_ANOMALIES) and remediations (stream
// WSHEAL_REMEDIATIONS) through durable consumers shared by every replica.
// Outputs: events.Incident on IncidentSubject(id) at every change,
// events.Notification on NotificationSubject(sink, id), events.Review on
// ReviewSubject(id), and messages to the sinks through the durable outbox
// (stream WSHEAL_OUTBOX). State: the incidents KV bucket, every change a
// compare-and-set. Control: the NATS micro service wsheal-notifier with
// status, list, get, ack, resolve, note, silence and review under
// events.ControlGroup("notifier").
package notifier
