// Package contract runs pkg/events against a real nats-server: Ensure is
// idempotent and keeps an operator's limits, Check tells a missing stream
// or bucket, the channel stream stays under its byte limit while the
// control plane's buckets keep working, the emitter deduplicates stored
// events, control verbs answer, and a stream is read back newest first.
//
// It holds tests only. They live in this module, beside the embedded
// server, so that pkg/events, the contract every service and the client
// SDK import, requires no nats-server: its own tests are those that need
// no server.
package contract
