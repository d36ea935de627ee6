package events

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Roots and wildcards of the three subject spaces.
const (
	// EventsAll matches every event: `nats sub 'wsheal.evt.>'`.
	EventsAll = "wsheal.evt.>"
	// ControlAll matches every control request subject.
	ControlAll = "wsheal.ctl.>"
	// DataRoot is the root of channel subjects, apart from events and control.
	DataRoot = "wschan"
	// DataAll matches every channel subject.
	DataAll = "wschan.>"
	// LiveRoot is the root of the core NATS subjects the channel stream
	// republishes each stored message to (RePublish), with its
	// Nats-Sequence and Nats-Last-Sequence headers: the live flow.
	LiveRoot = "wslive"
	// LiveAll matches every live subject.
	LiveAll = "wslive.>"

	// GatewayEventsAll matches every gateway event.
	GatewayEventsAll = "wsheal.evt.gw.>"
	// HeartbeatsAll matches every gateway heartbeat.
	HeartbeatsAll = "wsheal.evt.gw.*.heartbeat"
	// HealthAll matches every gateway health snapshot.
	HealthAll = "wsheal.evt.gw.*.health"
	// ConnEventsAll matches every notable connection event.
	ConnEventsAll = "wsheal.evt.gw.*.conn"
	// LifecycleAll matches every gateway lifecycle event.
	LifecycleAll = "wsheal.evt.gw.*.lifecycle"
	// ServiceHeartbeatsAll matches the heartbeats of monitor, healer, notifier.
	ServiceHeartbeatsAll = "wsheal.evt.svc.>"
	// AnomaliesAll matches every anomaly event (opened and resolved).
	AnomaliesAll = "wsheal.evt.anomaly.>"
	// RemediationsAll matches every remediation decision: the audit trail.
	RemediationsAll = "wsheal.evt.remediation.>"
	// IncidentsAll matches every incident state change.
	IncidentsAll = "wsheal.evt.incident.>"
	// NotificationsAll matches every notification attempt outcome.
	NotificationsAll = "wsheal.evt.notify.>"
	// ReviewsAll matches every post-incident review.
	ReviewsAll = "wsheal.evt.review.>"
	// OutboxAll matches the notifier's durable outbox (internal).
	OutboxAll = "wsheal.outbox.>"

	// FleetTarget is the target token of fleet-wide anomalies and actions.
	FleetTarget = "fleet"
)

// Subject builders. Tokens must have passed ValidateToken; builders do not
// re-check them on hot paths.

// HeartbeatSubject is the heartbeat subject of a gateway node.
func HeartbeatSubject(node string) string { return "wsheal.evt.gw." + node + ".heartbeat" }

// HealthSubject is the health snapshot subject of a gateway node.
func HealthSubject(node string) string { return "wsheal.evt.gw." + node + ".health" }

// ConnSubject is the subject of a node's notable connection events.
func ConnSubject(node string) string { return "wsheal.evt.gw." + node + ".conn" }

// LifecycleSubject is the subject of a node's lifecycle (start, drain, stop).
func LifecycleSubject(node string) string { return "wsheal.evt.gw." + node + ".lifecycle" }

// ServiceHeartbeatSubject is the heartbeat subject of a control-plane service instance.
func ServiceHeartbeatSubject(service, instance string) string {
	return "wsheal.evt.svc." + service + "." + instance + ".heartbeat"
}

// AnomalySubject is the subject of an anomaly of kind on target (a node or FleetTarget).
func AnomalySubject(kind, target string) string { return "wsheal.evt.anomaly." + kind + "." + target }

// RemediationSubject is the subject of a remediation decision.
func RemediationSubject(action, target string) string {
	return "wsheal.evt.remediation." + action + "." + target
}

// IncidentSubject is the subject of an incident's state changes.
func IncidentSubject(id string) string { return "wsheal.evt.incident." + id }

// NotificationSubject is the subject of a notification outcome for an incident.
func NotificationSubject(sink, incident string) string {
	return "wsheal.evt.notify." + sink + "." + incident
}

// ReviewSubject is the subject of an incident's post-incident review.
func ReviewSubject(incident string) string { return "wsheal.evt.review." + incident }

// OutboxSubject is the notifier's internal outbox subject for a sink.
func OutboxSubject(sink string) string { return "wsheal.outbox." + sink }

// ChannelSubject is the data subject of a client channel.
func ChannelSubject(name string) string { return DataRoot + "." + name }

// LiveSubject is the core NATS subject the channel stream republishes
// the messages of a channel to.
func LiveSubject(channel string) string { return LiveRoot + "." + channel }

// LiveChannel returns the channel of a live subject.
func LiveChannel(subject string) (string, bool) {
	return strings.CutPrefix(subject, LiveRoot+".")
}

// ChannelName returns the channel of a data subject, or "" if it is not one.
func ChannelName(subject string) string {
	name, ok := strings.CutPrefix(subject, DataRoot+".")
	if !ok {
		return ""
	}
	return name
}

// ErrBadToken is returned by ValidateToken.
var ErrBadToken = errors.New("events: bad subject token")

// ValidateToken rejects a subject token that is empty or holds '.', '*',
// '>' or white space, or is longer than 128 bytes. Node ids, channel names,
// kinds and actions are all tokens.
func ValidateToken(tok string) error {
	if tok == "" {
		return fmt.Errorf("%w: empty", ErrBadToken)
	}
	if len(tok) > 128 {
		return fmt.Errorf("%w: %d bytes, at most 128", ErrBadToken, len(tok))
	}
	for _, r := range tok {
		switch {
		case r == '.' || r == '*' || r == '>':
			return fmt.Errorf("%w: %q holds %q", ErrBadToken, tok, r)
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return fmt.Errorf("%w: %q holds white space or a control character", ErrBadToken, tok)
		}
	}
	return nil
}

// SubjectMatches reports whether subject matches the pattern, which may use
// the NATS wildcards '*' (one token) and '>' (the rest).
func SubjectMatches(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || (p != "*" && p != st[i]) {
			return false
		}
	}
	return len(pt) == len(st)
}
