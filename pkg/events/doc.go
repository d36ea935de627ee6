// Package events is the wsheal NATS contract: every subject, every event,
// command and reply payload, the CloudEvents envelope they travel in, and
// the JetStream streams and key-value buckets that hold durable state.
//
// Services never build a subject by hand; they call the builders in this
// package with tokens that passed ValidateToken. Every event is a
// CloudEvents 1.0 structured-mode JSON document whose type carries a
// version (io.wsheal.gateway.v1.heartbeat). Its id doubles as the
// Nats-Msg-Id header so that JetStream de-duplicates republished events.
//
// Trust: a value read from a bucket or an event is checked before anyone
// acts on it, whoever wrote it: DecodeRegistration and Registration.CheckURLs
// (schemes ws, wss, http, https; an allow-list of Hosts), DecodeSettings
// (Settings.Validate bounds). Streams and buckets are created by Ensure with
// operator rights (`wsheal setup-streams`); a service without that right
// calls Check (EnsureMode with EnsureCheck), which only reads stream info.
// Every event published by Emitter passes through package redact first.
//
// Control: every request-reply verb of a service is one Endpoint value
// (endpoints.go) that pairs the verb with its request and reply types; the
// service registers a handler for it (service.Handle) and callers ask with
// Endpoint.Call or, on a gateway node, Endpoint.CallNode, so both sides
// agree on the payloads by construction.
//
// Compatibility: within a version, fields are only ever added. A decoder
// ignores fields it does not know and rejects a known type of an unknown
// version with ErrWrongVersion.
package events

// Version is the wsheal release reported in heartbeats and micro services.
// It is overridden at link time by the Makefile.
var Version = "0.1.0-dev"
