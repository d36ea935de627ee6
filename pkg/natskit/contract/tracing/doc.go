// Package tracing runs pkg/events/service/tracing over a real nats-server:
// a trace rides a stored event and a control request from the caller's
// span to the consumer's, an untraced message starts no trace and a bad
// traceparent starts a new one, work continues the trace of its message;
// and it benchmarks the cost of emitting a traced heartbeat.
//
// It holds tests only, here so that pkg/events requires no nats-server.
package tracing
