// Package pool holds a gateway node's live WebSocket connections and keeps
// them healthy.
//
// Guarantees:
//   - One goroutine per connection: gws's read loop. Pings, pong deadlines,
//     idle eviction and token expiry are checked by a few sharded scanners
//     (one ticker each), never by a timer or goroutine per connection.
//   - Every frame sent to a client goes through its bounded send queue: the
//     count of frames handed to gws and not yet written. A frame that would
//     exceed the bound closes the connection with frame.CloseSlow instead of
//     growing memory; the client resumes from its last sequence.
//   - Admission happens before the upgrade: over the connection cap, over
//     the accept rate or while draining, the request gets 503 with
//     Retry-After.
//   - Handler callbacks for one connection (Open, Message, Close) run on its
//     read goroutine, one at a time, Close last.
package pool
