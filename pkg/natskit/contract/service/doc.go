// Package service runs pkg/events/service's work consumers against a real
// nats-server: each outcome (ack, retry later, drop) settles the message as
// documented, in-flight work is bounded and long work kept alive, an
// existing consumer is retuned, and a stopped replica leaves its message
// to another.
//
// It holds tests only, here so that pkg/events requires no nats-server.
package service
