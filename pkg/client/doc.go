// Package client is the Go SDK for wsheal gateways: one logical connection
// that survives node crashes, drains and network blips without losing or
// repeating a message.
//
// Dial connects to one of the configured gateway URLs (shuffled) or to the
// one a discovery endpoint names, and waits for the gateway's hello. From
// then on the client keeps exactly one WebSocket open at a time:
//
//   - When the socket ends it reconnects with exponential backoff and full
//     jitter (Backoff: 200 ms doubling to 20 s by default; the attempt count
//     starts again after a connection stayed up for Backoff.Stable), failing
//     over to the next URL.
//   - A reconnect frame from the gateway ("reconnect elsewhere after N ms")
//     is honoured: the client moves at that time, to the URL it names.
//   - Close codes 40xx reconnect, 41xx stop (frame.ShouldReconnect): a bad
//     token ends the client with an error matching ErrUnauthorized, visible
//     in Err, in the Closed state, and in pending calls.
//   - No ping or traffic within the hello's ping interval plus StaleGrace
//     means the connection is dead (ErrStale): it is closed and replaced.
//
// Subscriptions are resumed on every new connection from the last position
// delivered on each channel (the sequence and the epoch, the channel
// stream's identity, both from the server's answers; a pos frame moves a
// quiet channel's position to a later stream sequence, so that the
// stream's traffic on other channels does not push it out of retention
// while nothing of this channel is missed); the handler sees
// each message once and in order. When the gateway cannot replay the whole
// gap (recovered:false: the gap left retention, or the stream was
// recreated and the epoch changed) the caller is told through a Gap
// callback and Subscription.Gaps, and the subscription goes on from the
// reply's position. Messages that arrive before a resume's reply at or
// below the old position (a recreated stream's live flow, or duplicates)
// are held until the reply tells them apart: the new epoch's are
// delivered after the Gap, in order; duplicates are dropped. Publish
// waits for the gateway's acknowledgement and is sent again, with the same
// idempotency id, after a reconnect, so the message is stored once.
//
// Config.OnState reports every state change (connecting, connected,
// disconnected with its cause and close code, reconnecting with attempt
// and delay, closed) for logs and metrics.
//
// Goroutines: one per client reads the socket and reconnects, one runs the
// handlers; timers do the rest. The WebSocket is github.com/lxzan/gws's
// client over a TCP connection the client dials itself (Config.Dialer, so a
// source address can be chosen; TLS for wss://; cancelled by Close).
package client
