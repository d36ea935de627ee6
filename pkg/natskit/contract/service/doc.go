// Package service runs pkg/events/service against a real nats-server: each
// work outcome (ack, retry later, drop) settles the message as documented,
// in-flight work is bounded and long work kept alive, an existing consumer
// is retuned, and a stopped replica leaves its message to another; a KV
// watch hands over every value, then every change, and comes back after a
// failure; a control row decodes strictly, answers within its deadline,
// survives a panic, and its typed client maps every error.
//
// It holds tests only, here so that pkg/events requires no nats-server.
package service
