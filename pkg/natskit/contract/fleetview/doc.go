// Package fleetview runs pkg/events/fleetview against a real nats-server:
// the registry as the gateways write it is read, decoded and judged stale
// by the one rule.
//
// It holds tests only, here so that pkg/events requires no nats-server.
package fleetview
