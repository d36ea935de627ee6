// Package channel carries client channels over NATS on one gateway node:
// publishes are stored in the JetStream stream events.StreamChannels (the
// durable log and the dedup window), the live flow comes from core NATS,
// and a resume replays any gap inside retention as a paced stream.
//
// # Live flow: no JetStream consumer per channel
//
// The channel stream republishes every stored message (RePublish) to the
// core subject events.LiveSubject(channel) with the headers Nats-Sequence
// (its stream sequence) and Nats-Last-Sequence (the sequence of the
// previous stored message of the same channel, 0 for the first). The first
// local subscriber of a channel makes the hub subscribe to that subject,
// then read the channel's last sequence with a direct get; the last one to
// leave unsubscribes. A channel costs one core subscription (the NATS
// client runs a delivery goroutine per subscription: a few KiB of stack)
// and never a JetStream consumer: channel count is bounded by memory, not
// by the stream's consumer limit, and replays create none
// either (they read with batch direct gets, which the stream allows with
// AllowDirect and any replica answers).
//
// Each message is encoded once (frame.AppendMessage) and the same bytes go
// to every subscriber; the subscriber list is copy-on-write, so the hot
// path takes one short lock and allocates nothing per subscriber. A
// Subscriber whose Deliver returns false is dropped from the channel and
// counted in Stats.Dropped. Messages that arrive together (more waiting
// on the subscription while one is handled, as under load) go out as one
// run: a Batcher (pool.Conn) takes the run in one call and its connection
// writes it in one system call (see run in fan.go).
//
// The topic keeps its position: the last sequence handed to subscribers.
// A republished message at or below it is a duplicate and is dropped; one
// whose Nats-Last-Sequence is above it reveals a gap, which is filled from
// the stream (batch direct gets of that channel only, page by page) before
// the message goes out. Failure modes and what covers them:
//
//   - A message republished before the node learned the channel's last
//     sequence: the subscription starts before that read, so the message
//     is either at or below the position read (dropped) or follows it.
//   - Republished messages lost on the way (the NATS client's pending
//     limit per channel, 8192 messages or 8 MiB, overflowing under load;
//     the server cutting this node off as a slow consumer): the next
//     message's Nats-Last-Sequence shows the gap and it is filled; a slow
//     consumer error or a reconnect also triggers a catch-up of the
//     affected channels at once, so a lost tail does not wait for the
//     next message.
//   - NATS reconnect (a server restart, a network cut): core
//     subscriptions are restored by the client; on the reconnect every
//     channel reads its last sequence again and fills what it missed,
//     with at most 8 direct gets in flight.
//   - Stream leader change (a cluster): the new leader republishes what it
//     stores with the same headers; what the old one stored but did not
//     republish shows up as a gap and is filled from a replica.
//   - Filling needs NATS: a fill retries every 250 ms while NATS does not
//     answer, holding back that channel's live flow (never delivering
//     past a hole); after a minute it gives up and asks the channel's
//     subscribers to start over (Restarter: the connection closes with
//     4007 and the client resumes from its last sequence).
//   - The stream recreated under live subscribers (sequences start
//     again, a new epoch): a message below the position makes the topic
//     re-read the stream's epoch (at most once a second); on a change the
//     subscribers that can start over are asked to (4007), others follow
//     the new stream from its start.
//
// No per-channel history is kept in memory: a resume reads the stream. A
// history bounded in bytes would save a page read for short gaps, but the
// batch direct get of one page is a single request, and without a history
// a node holds nothing per channel beyond its subscription.
//
// # Resume
//
// Subscribe with since (a Position: a sequence and the epoch it belongs
// to) checks the stream first and answers Recovered=false, with no replay
// and the live flow from SubscribeResult.Seq on, when
//
//   - the epoch is not the stream's (it was recreated, or the position is
//     from another deployment); an empty epoch means the current one,
//   - since is above the stream's last sequence (a position from the
//     future: another deployment, or a recreated stream),
//   - the front of the gap left retention: the stream's first sequence is
//     above since+1 (aged out by MaxAge, discarded by MaxBytes, purged);
//     stream sequences are shared by every channel, so this is
//     conservative: another channel's message gone from the gap answers
//     false too (connected subscribers of quiet channels are kept clear
//     of it, see "Positions of quiet channels"),
//   - the per-channel limit may have discarded part of the gap (the stream
//     holds MaxMsgsPerSubject messages of the channel after since).
//
// Otherwise the gap is replayed page by page (Config.PageSize messages,
// about Config.PageBytes, so memory per replay is bounded in bytes
// whatever the gap), each frame handed to Deliver only while the
// subscriber's backlog is under Config.ReplayWindow (Paced): the replay
// follows the client's reading pace and never bursts into its send queue,
// so any gap inside retention resumes with Recovered=true for a client
// that reads. A subscriber that reads nothing for Config.ReplayStall ends
// the replay with ErrSlow (the connection is closed as a slow consumer and
// the client resumes from what it got). There is no replay limit.
//
// A read of the replay (a page, the stream's state) that NATS does not
// answer within Config.FetchTimeout (a request or its answer lost or late
// under load, a reconnect) is tried again every 250 ms: everything before
// it was delivered, so nothing repeats and the resume does not end at a
// page boundary. After Config.ReplayStall without an answer, or when the
// caller's ctx ends, Subscribe fails with ErrUnavailable and the client
// resumes from what it got (Stats.ReplayRetries counts the retries).
//
// A page is one snapshot of the stream. Between pages the front of the
// stream may age out, so a page holds back its last message and the next
// page must start with it; if it does not, it was removed, and the answer
// is Recovered=false (the messages already delivered are in order and
// complete up to there: never a silent hole). The first page is checked
// against the stream's first sequence read after it. A message deleted by
// hand from the middle of the gap (a message delete, a subject purge) is
// not noticed.
//
// When the replay has read to the end of the stream and reached the
// topic's position, the subscriber joins the live flow under the lock that
// orders the fan-out, with only messages above its position to come: the
// handoff has no gap and no duplicate even while messages are published.
// Replayed messages reach the subscriber before Subscribe returns.
//
// A page that reads to the end of the stream short of the topic's position
// is read again (the messages after it may be newer than its snapshot).
// The topic's position is a message the live flow handed on, stored
// before that; if pages read for Config.ReplayStall after it was seen do
// not hold it, the stream no longer does (deleted by hand, the channel
// purged) and the answer is Recovered=false after every message still
// stored, instead of a replay that reads the same empty page forever and
// never answers. No replay waits without progress for longer than
// Config.ReplayStall: a client that reads nothing (ErrSlow), NATS that
// does not answer (ErrUnavailable), a stream that no longer holds the end
// of the gap (Recovered=false); Stats.ReplayStalls counts all three.
//
// # Positions of quiet channels
//
// A position is a stream sequence, not necessarily one of the channel's
// messages: the subscriber has every message of the channel at or below
// it that it is owed. A live subscribe answers the later of the topic's
// position and the stream's last sequence as last read (h.state, read
// before the subscribe): a new subscriber is owed nothing stored before
// it. Other channels' traffic moves the stream's first sequence past a
// quiet channel's position although nothing of the channel was lost, so
// every Config.MarkEvery the hub moves such positions forward with a pos
// frame (frame.AppendPosition), which Deliver hands on like a message:
//
//   - Which: members whose position (the later of member.after and the
//     topic's last) is in the older half of the stream's span, lowest
//     first, at most Config.MarkBatch channels per tick.
//   - Proof: one multi-last direct get per 64 channels reads, in one
//     snapshot of the stream (the server isolates it from writes), each
//     channel's last stored sequence L and the stream's last sequence U
//     (Nats-UpTo-Sequence of its end of batch; the state read before the
//     tick when no channel has a message). Then the stream's first
//     sequence F is read. A position p moves to U when L <= p and
//     F <= p+1: a message of the channel in (p, U] was stored before the
//     snapshot, so in it it was stored (then L > p) or evicted, and
//     eviction is oldest first within a channel for every limit: by age
//     or bytes it removed everything before it (then F > p+1), by the
//     per-channel limit it kept newer messages of the channel (then
//     L > p, or they were evicted in turn).
//   - The member's after moves to U, so the live flow, which never holds
//     a message of the channel in (p, U], is unchanged; the topic's own
//     position stays its last message (a replay joins once it reaches
//     it). A topic whose flow is busy filling a gap is skipped that tick.
//
// Failure modes: traffic that turns over half the stream between two
// ticks passes a quiet position before it moves (the resume is then
// answered Recovered=false, conservatively); a subscriber that was away
// while the stream passed its position gets Recovered=false though its
// channel may have lost nothing; a message deleted by hand is not
// noticed; in a cluster the direct get is answered by any replica, which
// ages messages out on its own clock, so a replica that removed a
// message of the channel a moment before the leader's F was read could
// let a position pass it (a message then at the very front of retention
// that the subscriber had not received live). A tick costs nothing
// without candidates (it starts from the stream state last read, read
// again only when ten ticks old), else one stream info, MarkBatch/64
// direct gets, and a frame per moved subscriber.
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
// Publish stores through JetStream. A non-empty idem is scoped to
// (identity, channel, key): the Nats-Msg-Id is MessageID, a hash of the
// three, so a retry within the stream's duplicate window
// (WSHEAL_CHANNELS_DUPLICATES, default 2 minutes) is stored once and
// answers the first sequence with duplicate=true, and the same key on
// another channel or by another identity is another message. A message
// over the stream's size limit is ErrTooLarge.
package channel
