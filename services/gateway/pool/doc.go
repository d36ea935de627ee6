// Package pool holds a gateway node's live WebSocket connections and keeps
// them healthy.
//
// Guarantees:
//   - One goroutine per connection: gws's read loop. Pings, pong deadlines,
//     idle eviction and token expiry are checked by a few sharded scanners
//     (one ticker each), never by a timer or goroutine per connection. A
//     writer goroutine exists only while a connection has frames to write.
//   - Every frame sent to a client goes through its bounded send queue:
//     at most Limits.SendQueue frames and Limits.SendQueueBytes bytes
//     queued and not yet written (Conn.Backlog, Conn.Queued). A frame that
//     would exceed either bound closes the connection with frame.CloseSlow
//     instead of growing memory; the client resumes from its last
//     sequence. Every write (frames, pings, pongs) has a deadline
//     (Limits.WriteTimeout, at most an eighth more: see armWrite); a peer
//     that does not read within it is closed as a slow consumer.
//   - A slow consumer's socket ends within about a second of its close,
//     whatever the peer does: the close frame gets closeWriteTimeout,
//     then the descriptor is closed with SO_LINGER 0, which resets the
//     connection (a peer that was keeping up has read the 4002 before).
//     Other closes are graceful, bounded by the kernel: it keeps at most
//     about 128 KiB unsent (TCP_NOTSENT_LOWAT, also through the edge
//     listener's wrapper) and drops the connection once those bytes have
//     waited orphanTimeout for the peer (TCP_USER_TIMEOUT, set when the
//     close starts); a close frame whose write never returns is cut by
//     dropLater.
//   - Memory per connection is bounded whatever the peer does: a peer's
//     pings are answered with one pending pong at most (the latest ping's
//     payload; RFC 6455 allows it), so a peer that pings and never reads
//     owes one pong, not one per ping. Only a pong that echoes the
//     outstanding ping's payload answers it: an unsolicited or forged pong
//     does not keep a half-open connection from going stale. Pings and
//     pongs count against the inbound rate like data frames; past it the
//     connection is closed with frame.CloseRateLimited (4005).
//   - With a memory budget (Limits.MemoryLimit) the pool reads the
//     runtime's memory five times a second: past 80% of the budget new
//     upgrades are refused (ErrMemory, 503); past 90% the connections with
//     the most bytes queued are closed as slow consumers.
//   - A panic in the protocol handler (Open, Message, Close) closes that
//     connection with frame.CloseInternalError (1011), is logged with its
//     stack and counted (Totals.Panics); the node keeps serving.
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
