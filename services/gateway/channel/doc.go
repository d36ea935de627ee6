// Package channel carries client channels over NATS JetStream on one
// gateway node: one ordered consumer per channel per node, fanned out in
// process to every local Subscriber, with lossless resume.
//
// # Fan-out
//
// The first local subscriber of a channel starts an ordered consumer on
// events.StreamChannels filtered to events.ChannelSubject(channel),
// starting right after the stream's last sequence; the last one to leave
// stops it and deletes it on the server. Each message is encoded once
// (frame.AppendMessage) and the same bytes go to every subscriber; the
// subscriber list is copy-on-write, so the hot path takes one short lock
// and allocates nothing per subscriber. A Subscriber whose Deliver returns
// false is dropped from the channel and counted in Stats.Dropped.
// Ordered consumers recreate themselves after a NATS restart from the
// last stream sequence they handed over, and the hub ignores any sequence
// it has already seen, so subscribers see no gap and no duplicate.
//
// # Resume
//
// Each channel keeps its recent messages in memory: every message with a
// stream sequence in (floor, last], at most Config.HistorySize of them
// (more for 30 s after a JetStream replay, and while one runs). Subscribe
// with since = n then works as follows:
//
//   - n >= floor: the messages above n are replayed from memory.
//   - n < floor: the messages in (n, floor] are read from JetStream by one
//     short-lived consumer, joined to the front of the history (lowering
//     floor, so that the resumes that follow are served from memory) and
//     replayed with the rest. One replay runs per channel at a time;
//     concurrent deep resumes register their position, wait for it and
//     then look at memory again; the next replay starts at the deepest
//     position registered, so a reconnect storm after a node failure costs
//     about two replays per channel, not one per client.
//   - The replay is delivered through Deliver before Subscribe returns, and
//     the subscriber joins the live flow under the same lock that orders
//     live messages into the history, so the handoff has no gap and no
//     duplicate even while messages are being published. Live messages
//     with a sequence <= n are never delivered to it.
//
// The answer is Recovered=false, with no replay at all and the live flow
// from SubscribeResult.Seq on (never a silent partial replay), when
//
//   - the gap holds more than Config.MaxReplay messages of the channel, or
//   - part of the gap may be gone from the stream: the stream's first
//     sequence is above n+1 (messages aged out by MaxAge or were purged),
//     or a sequence in (n, floor] was deleted from the middle of the
//     stream (a subject purge or a message delete). Stream sequences are
//     shared by every channel, so the rule is conservative: a removed
//     message of another channel in the gap also answers false.
//
// The stream's first sequence is checked before and again after the read,
// so a message that ages out during a replay cannot go missing silently.
// Both verdicts are remembered per channel (a position judged lost or too
// deep stays so), so later resumes below them answer at once.
//
// Subscribe may deliver replayed and live messages before it returns: the
// caller writes them after its subscribe reply or expects clients to
// accept msg frames before it.
//
// # Payloads
//
// Client publishes are validated JSON. A payload that reaches a channel
// subject from elsewhere and is not JSON is delivered as a JSON string
// (invalid UTF-8 replaced by U+FFFD) and counted in Stats.NonJSON, so the
// hub never emits an invalid frame.
//
// # Publish
//
// Publish stores through JetStream; a non-empty idem is the Nats-Msg-Id,
// so a retry within the stream's duplicate window is stored once and
// answers the first sequence with duplicate=true.
package channel
