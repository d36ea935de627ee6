// Package conformance checks the data plane from the outside: a client
// written from docs/protocol.md alone (its own frame types over a plain
// WebSocket library, not pkg/client and not pkg/events/frame) against
// real gateways over real sockets and a real embedded NATS server.
//
// It holds only tests. It lives in the gateway module because it runs
// in-process gateways through services/gateway/gatewaytest (each with its
// own listener and its own NATS connection, and each killable as by a
// crash), so `make test` runs it with the gateway's tests and no new
// module is needed.
//
// What it guarantees when green:
//   - randomized fleet run (TestRandomizedDataPlane): many clients over
//     many channels across three gateways, random disconnects measured in
//     messages missed, readers that stall until the node cuts them off
//     as slow consumers (4002; the client may only see the connection
//     end when the close frame cannot pass, but it does see it end), a
//     node killed mid-run, a
//     publisher that retries
//     unacknowledged publishes with the same idem. Every client ends with
//     every acknowledged message of its channels after its first
//     subscribe exactly once and in order, and no client is left without
//     a frame for a minute before it has caught up (a resume the node
//     neither progresses nor answers); slow catch-up on a loaded machine
//     is not a failure below 8 minutes. WSHEAL_E2E_SEED replays a run
//     (the seed is printed); WSHEAL_SOAK=<duration> runs the larger soak
//     mode (make soak).
//   - a client offline for 60,000 messages of its channel (ten minutes at
//     100 msg/s) resumes every one of them on another node, then the live
//     flow; a reader slower than its channel is cut off, sees its socket
//     end within 5 s (docs/protocol.md promises about a second), and
//     resumes;
//   - two clients on two channels using the same idem both get their
//     message stored and delivered, and a retry on one channel is still
//     deduplicated;
//   - a resume whose gap has left retention (a byte-limited stream), or
//     from a position above the stream, is answered recovered:false and
//     followed by the live flow, as is one whose channel's own messages
//     left retention while it was away; the connected readers of a quiet
//     channel (its own messages delivered, then evicted by other
//     channels' traffic) and of an empty one follow the stream through
//     pos frames and resume with recovered:true and every message
//     published meanwhile, exactly once.
package conformance
