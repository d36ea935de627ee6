// Package pool holds a gateway node's live WebSocket connections and keeps
// them healthy.
//
// Guarantees:
//   - One goroutine per connection: gws's read loop. Pings, pong deadlines,
//     idle eviction and token expiry are checked by a few sharded scanners
//     (one ticker each), never by a timer or goroutine per connection. A
//     writer goroutine exists only while a connection has frames to write.
//   - Every frame sent to a client goes through its bounded send queue: the
//     count of frames queued and not yet written. A frame that would
//     exceed the bound closes the connection with frame.CloseSlow instead of
//     growing memory; the client resumes from its last sequence.
//   - Frames queued while a write is pending leave together in one write
//     (see outbox): under fan-out a connection costs one system call per
//     burst, not one per frame.
//   - Admission happens before the upgrade: over the connection cap, over
//     the accept rate or while draining, the request gets 503 with
//     Retry-After.
//   - Handler callbacks for one connection (Open, Message, Close) run one
//     at a time, in order, Close last: Open and Close on its read goroutine,
//     Message on a short-lived goroutine the read loop waits for (so that
//     the deep call chains of a subscribe do not grow the stack an idle
//     connection keeps).
package pool
