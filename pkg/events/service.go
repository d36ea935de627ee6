package events

import "time"

// TypeServiceHeartbeat is the heartbeat type of monitor, healer and notifier.
const TypeServiceHeartbeat = "io.wsheal.service.v1.heartbeat"

// Service names, used in subjects, sources and micro service names.
const (
	ServiceGateway  = "gateway"
	ServiceMonitor  = "monitor"
	ServiceHealer   = "healer"
	ServiceNotifier = "notifier"
	ServiceDev      = "dev"
)

func init() { register(func() Payload { return new(ServiceHeartbeat) }) }

// ServiceHeartbeat is published by every control-plane service instance
// every second on ServiceHeartbeatSubject(service, instance).
type ServiceHeartbeat struct {
	Service    string    `json:"service"`
	Instance   string    `json:"instance"`
	StartedAt  time.Time `json:"started_at"`
	IntervalMS int64     `json:"interval_ms"`
	Version    string    `json:"version"`
	// State is a short service-specific word: "active", "paused", "dry-run".
	State string `json:"state,omitempty"`
}

// EventType implements Payload.
func (*ServiceHeartbeat) EventType() string { return TypeServiceHeartbeat }

// Validate implements Payload.
func (s *ServiceHeartbeat) Validate() error {
	switch {
	case s.Service == "":
		return missing("service")
	case s.Instance == "":
		return missing("instance")
	case s.IntervalMS <= 0:
		return invalid("interval_ms", "must be positive")
	}
	return nil
}
