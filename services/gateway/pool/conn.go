package pool

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// closeWriteTimeout bounds how long a close frame may wait for a socket
// that does not drain (a slow or dead peer).
const closeWriteTimeout = time.Second

// orphanTimeout bounds how long the kernel keeps a closing connection's
// unsent bytes for a peer that takes none of them (TCP_USER_TIMEOUT, set
// when the close starts): once the descriptor is closed the kernel would
// otherwise go on offering them, and the peer would see its connection
// neither end nor carry anything, for a minute or more.
const orphanTimeout = 2 * closeWriteTimeout

// flushTimeout bounds how long the frames queued before a CloseAfter may
// take to reach a peer; a peer that reads nothing cannot hold its
// connection open past it.
const flushTimeout = 5 * time.Second

// causes indexes close causes in counters.
var causes = []string{events.CauseClient, events.CauseStale, events.CauseIdle,
	events.CauseSlow, events.CauseDrained, events.CauseError}

func causeIndex(cause string) int {
	for i, c := range causes {
		if c == cause {
			return i
		}
	}
	return len(causes) - 1
}

// Conn is one client connection. Its exported methods are safe for
// concurrent use.
type Conn struct {
	ws     *gws.Conn
	pool   *Pool
	shard  *shard
	idx    int // position in shard.conns; guarded by shard.mu
	id     string
	remote string
	opened int64 // unix nanos

	lastActive atomic.Int64 // unix nanos of the last inbound data frame
	pingSent   atomic.Int64 // unix nanos the outstanding ping's pong deadline runs from, 0 if none
	pingID     atomic.Int64 // the outstanding ping's payload (its send time), 0 if none
	nextPing   int64        // guarded by shard.mu
	rttMicros  atomic.Int64 // last measured round trip
	inflight   atomic.Int32 // frames handed to gws, not yet written
	queued     atomic.Int64 // bytes of those frames
	subs       atomic.Int32 // channels subscribed, kept by the handler
	closing    atomic.Int32 // 1 + cause index once a close started
	expires    int64        // token expiry, unix nanos; 0 = never

	msgsIn, msgsOut atomic.Uint64 // frames received, channel messages queued

	// inbound token bucket; read goroutine only
	tokens  float64
	tokTime int64

	busy      atomic.Bool // the handler is running a frame of this connection
	done      atomic.Bool // OnClose ran
	closeSent atomic.Bool // a close frame is being written: frames after it are dropped
	out       outbox      // text frames queued, written in batches
	flushTask func()      // c.flush, built once
	// armedUntil is the write deadline armWrite set last, unix nanos;
	// written and read on the write queue only.
	armedUntil int64
	pong       *pongSlot // the one pong owed, allocated at the first ping
	release    func()    // from Accept.OnClose, run once after the handler's Close

	// Data is the handler's per-connection state, set before the read
	// loop starts.
	Data any
}

// ID is the connection's session id.
func (c *Conn) ID() string { return c.id }

// Remote is the peer address.
func (c *Conn) Remote() string { return c.remote }

// AddSubs adjusts the count of channels the connection is subscribed to;
// a connection with subscriptions is never idle.
func (c *Conn) AddSubs(n int) { c.subs.Add(int32(n)) }

// Subs is the number of channels the connection is subscribed to.
func (c *Conn) Subs() int { return int(c.subs.Load()) }

// Backlog is the number of frames queued and not yet written.
func (c *Conn) Backlog() int { return int(c.inflight.Load()) }

// Queued is the number of bytes of the frames queued and not yet written.
func (c *Conn) Queued() int64 { return c.queued.Load() }

// RTT is the last measured round trip (0 before the first pong).
func (c *Conn) RTT() time.Duration { return time.Duration(c.rttMicros.Load()) * time.Microsecond }

// Notable reports a notable event about the connection (rate-limited by
// the receiver).
func (c *Conn) Notable(kind, detail string) { c.pool.notable(kind, c, detail) }

// Closing reports whether a close has started.
func (c *Conn) Closing() bool { return c.closing.Load() != 0 }

// Deliver implements the channel hub's subscriber: a non-blocking enqueue
// of shared, read-only bytes. False means the send queue is full; the
// connection is then closed as a slow consumer.
func (c *Conn) Deliver(b []byte) bool {
	if !c.Send(b) {
		return false
	}
	c.pool.stats.msgsOut.Add(1)
	c.msgsOut.Add(1)
	return true
}

// DeliverRun implements the channel hub's batch delivery: Deliver of each
// frame in order, all or none, in one enqueue (one wake-up of the
// writer, whose write carries them together). False means the send queue
// cannot take them all; the connection is then closed as a slow consumer.
func (c *Conn) DeliverRun(frames [][]byte) bool {
	if !c.sendRun(frames) {
		return false
	}
	n := uint64(len(frames))
	c.pool.stats.msgsOut.Add(n)
	c.msgsOut.Add(n)
	return true
}

// Msgs are the frames received from the client and the channel messages
// queued to it so far.
func (c *Conn) Msgs() (in, out uint64) { return c.msgsIn.Load(), c.msgsOut.Load() }

// Send queues a text frame. b must be UTF-8 (frames are written in
// batches without gws's per-write check) and must not change afterwards.
// It returns false if the connection is closing or its send queue is
// full (SendQueue frames or SendQueueBytes bytes); in the latter case the
// connection is closed with frame.CloseSlow.
func (c *Conn) Send(b []byte) bool {
	if !c.reserve(1, int64(len(b))) {
		return false
	}
	c.enqueue(b)
	return true
}

// sendRun is Send of each of frames, all or none.
func (c *Conn) sendRun(frames [][]byte) bool {
	var size int64
	for _, f := range frames {
		size += int64(len(f))
	}
	if !c.reserve(int32(len(frames)), size) {
		return false
	}
	c.enqueueRun(frames)
	return true
}

// reserve counts n frames of size bytes in the send queue, or closes the
// connection as a slow consumer if the queue cannot take them (see Send).
func (c *Conn) reserve(n int32, size int64) bool {
	if c.closing.Load() != 0 {
		return false
	}
	frames, bytes := c.inflight.Add(n), c.queued.Add(size)
	if frames > int32(c.pool.cfg.SendQueue) || (bytes > int64(c.pool.cfg.SendQueueBytes) && frames > 1) {
		c.inflight.Add(-n)
		c.queued.Add(-size)
		c.closeSlow("send queue full")
		return false
	}
	c.pool.backlog.Add(int64(n))
	c.pool.backlogBytes.Add(size)
	return true
}

// SendFirst writes a frame synchronously on the read goroutine, before
// anything else is queued: the hello. It spawns no goroutine and keeps the
// connection's footprint that of an idle socket.
func (c *Conn) SendFirst(b []byte) {
	if err := c.ws.WriteMessage(gws.OpcodeText, b); err != nil {
		c.pool.log.Debug().Err(err).Str("conn_id", c.id).Msg("first frame not written")
	}
}

func (c *Conn) closeSlow(reason string) {
	if c.Close(frame.CloseSlow, events.CauseSlow, reason) {
		c.pool.stats.slow.Add(1)
		c.pool.notable(events.ConnSlowConsumer, c, reason)
	}
}

// Close starts closing the connection now with code, counting it under
// cause. Frames still queued may be lost (the client resumes). It returns
// false if a close had already started.
func (c *Conn) Close(code int, cause, reason string) bool {
	if !c.closing.CompareAndSwap(0, int32(causeIndex(cause))+1) {
		return false
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
	c.closeSent.Store(true)
	c.boundClose()
	if cause == events.CauseSlow {
		c.resetOnClose()
	}
	c.dropLater()
	go func() { _ = c.ws.WriteClose(uint16(code), []byte(reason)) }()
	return true
}

// CloseAfter queues a close after the frames already queued (a reconnect
// hint, an error) so that the client reads them first.
func (c *Conn) CloseAfter(code int, cause, reason string) bool {
	if !c.closing.CompareAndSwap(0, int32(causeIndex(cause))+1) {
		return false
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(flushTimeout))
	c.boundClose()
	// The queued close runs after the frames before it; whatever becomes
	// of that queue, the socket ends within this bound.
	time.AfterFunc(flushTimeout+2*closeWriteTimeout, c.kill)
	c.ws.Async(func() {
		_ = c.ws.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
		c.closeSent.Store(true)
		_ = c.ws.WriteClose(uint16(code), []byte(reason))
		c.dropLater()
	})
	return true
}

// boundClose bounds what a closing socket may still cost: the kernel
// drops it once its unsent bytes (at most about unsentBound, see
// BoundUnsent, plus one batch and the close frame) have waited
// orphanTimeout for the peer, whether or not gws has closed the
// descriptor by then. dropLater covers a close frame whose write never
// returns.
func (c *Conn) boundClose() {
	if nc := c.ws.NetConn(); nc != nil {
		boundOrphan(nc, orphanTimeout)
	}
}

// resetOnClose makes the closing of the descriptor reset the connection
// (SO_LINGER 0): a slow consumer's close frame waits behind bytes the
// peer has not taken, and a graceful close would leave the kernel
// offering them while the peer sees its connection neither end nor
// carry anything. The reset ends it at once on both sides; a peer that
// was keeping up has read the close frame before it.
func (c *Conn) resetOnClose() {
	if tc, ok := c.ws.NetConn().(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
}

// dropLater drops the socket twice closeWriteTimeout after a close
// started: a peer that answers the close frame is gone by then; one that
// reads nothing, or whose close frame waits behind a blocked write, must
// not keep the socket open.
func (c *Conn) dropLater() { time.AfterFunc(2*closeWriteTimeout, c.kill) }

// kill drops the TCP connection without a close frame: a crash as the
// client sees it.
func (c *Conn) kill() {
	c.closing.CompareAndSwap(0, int32(causeIndex(events.CauseError))+1)
	if nc := c.ws.NetConn(); nc != nil {
		c.resetOnClose()
		_ = nc.Close()
	}
}

// allowInbound spends one token of the connection's inbound bucket. Read
// goroutine only.
func (c *Conn) allowInbound(now int64, rate float64, burst int) bool {
	if rate <= 0 {
		return true
	}
	if c.tokTime == 0 {
		c.tokens = float64(burst)
	} else {
		c.tokens += float64(now-c.tokTime) / float64(time.Second) * rate
		if c.tokens > float64(burst) {
			c.tokens = float64(burst)
		}
	}
	c.tokTime = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// Info describes the connection for the status command.
func (c *Conn) Info(now time.Time, stale bool) events.ConnInfo {
	n := now.UnixNano()
	return events.ConnInfo{
		ID:       c.id,
		Remote:   c.remote,
		AgeMS:    (n - c.opened) / int64(time.Millisecond),
		IdleMS:   (n - c.lastActive.Load()) / int64(time.Millisecond),
		RTTMS:    float64(c.rttMicros.Load()) / 1000,
		Channels: c.Subs(),
		Backlog:  c.Backlog(),
		Stale:    stale,
	}
}

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
