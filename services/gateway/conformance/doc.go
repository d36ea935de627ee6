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
//     end when the close frame cannot pass), a node killed mid-run, a
//     publisher that retries
//     unacknowledged publishes with the same idem. Every client ends with
//     every acknowledged message of its channels after its first
//     subscribe exactly once and in order. WSHEAL_E2E_SEED replays a run
//     (the seed is printed); WSHEAL_SOAK=<duration> runs the larger soak
//     mode (make soak).
//   - a client offline for 60,000 messages of its channel (ten minutes at
//     100 msg/s) resumes every one of them on another node, then the live
//     flow; a reader slower than its channel is cut off and resumes;
//   - two clients on two channels using the same idem both get their
//     message stored and delivered, and a retry on one channel is still
//     deduplicated;
//   - a resume whose gap has left retention (a byte-limited stream), or
//     from a position above the stream, is answered recovered:false and
//     followed by the live flow; a quiet or empty channel whose position
//     fell below the stream's first sequence through other channels'
//     traffic, with every message of its gap stored, must still resume
//     with recovered:true.
package conformance
