// Package service is what every wsheal process does the same way, so that
// no service writes its own:
//
//   - Connect: the NATS connection from config, reconnecting forever, its
//     secrets kept out of every log line (Logger builds the root logger);
//   - EnsureContract: the JetStream streams and buckets, waited for;
//   - Heartbeat: the beat of a control-plane service;
//   - Group: the parts of a process run together; the first to fail (or
//     panic) stops the others, and a clean stop returns nil;
//   - Work: a durable work consumer shared by replicas; each message is
//     handled by one replica and settled as Ack, RetryIn or Drop, and a
//     replica that stops or goes silent hands its messages back;
//   - WatchKV: the watch of a KV bucket: every current value, then every
//     change, watched again after it fails or ends, until ctx does;
//   - AddControl and Handle: the control verbs of a service, one row per
//     typed endpoint (events.Endpoint): decoded strictly, bounded by one
//     handler timeout, traced, a panic answered as internal;
//   - HTTP: every server has read, write and idle timeouts; RequireToken
//     puts an endpoint behind a token; Recover answers a handler's panic
//     with 500 and the process keeps serving.
package service
