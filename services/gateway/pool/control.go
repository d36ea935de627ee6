package pool

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// pongSlot holds the one pong a connection may owe its peer: a ping that
// arrives while a pong is still queued replaces its payload, so a peer
// that sends pings and never reads costs one pending pong, not one per
// ping (RFC 6455 section 5.5.3 allows answering only the latest ping).
type pongSlot struct {
	mu      sync.Mutex
	payload [125]byte // a control frame's payload is at most 125 bytes
	n       int
	pending bool
}

// answerPing records the latest ping payload and queues a pong task if
// none is pending. Read goroutine only.
func (c *Conn) answerPing(payload []byte) {
	if c.pong == nil {
		c.pong = &pongSlot{}
	}
	s := c.pong
	s.mu.Lock()
	s.n = copy(s.payload[:], payload)
	schedule := !s.pending
	s.pending = true
	s.mu.Unlock()
	if schedule {
		c.ws.Async(c.writePong)
	}
}

// writePong writes the latest ping's payload back; it runs on the write
// queue.
func (c *Conn) writePong() {
	s := c.pong
	var buf [125]byte
	s.mu.Lock()
	n := copy(buf[:], s.payload[:s.n])
	s.pending = false
	s.mu.Unlock()
	if c.closeSent.Load() {
		return
	}
	c.armWrite()
	if err := c.ws.WriteMessage(gws.OpcodePong, buf[:n]); err != nil {
		c.writeFailed(err)
	}
}

// ping queues a ping carrying its send time. Only the pong that echoes
// this payload answers it (see acceptPong).
func (c *Conn) ping(now int64) {
	c.pingID.Store(now)
	c.pingSent.Store(now)
	c.ws.Async(func() {
		if c.closeSent.Load() {
			return
		}
		var payload [8]byte
		binary.BigEndian.PutUint64(payload[:], uint64(now))
		c.armWrite()
		if err := c.ws.WriteMessage(gws.OpcodePing, payload[:]); err != nil {
			c.writeFailed(err)
		}
	})
}

// acceptPong reports the round trip of the outstanding ping if payload
// echoes it. An unsolicited pong, an empty one or one with another
// payload is a keepalive that answers nothing: it neither clears the
// pending ping nor keeps a half-open connection from going stale. The
// payload is matched against pingID, not pingSent: Rested may move the
// deadline's start after the ping left.
func (c *Conn) acceptPong(payload []byte, now int64) (time.Duration, bool) {
	id := c.pingID.Load()
	if id == 0 || len(payload) != 8 || int64(binary.BigEndian.Uint64(payload)) != id {
		return 0, false
	}
	if !c.pingID.CompareAndSwap(id, 0) {
		return 0, false
	}
	c.pingSent.Store(0)
	return time.Duration(now - id), true
}

// armWrite sets the write deadline of the next write on the write queue.
// Once a close has started its own deadline stands (Close's short one,
// CloseAfter's flush bound); should the close start while this one is
// being set, the short close deadline is put back.
//
// The deadline is armed WriteTimeout plus an eighth ahead and left alone
// while at least WriteTimeout of it is left: every write still gets at
// least WriteTimeout (at most an eighth more), and a connection that
// writes often re-arms it once per eighth of WriteTimeout instead of per
// write (each re-arm moves a runtime timer: under fan-out it was 5% of
// the node's CPU).
func (c *Conn) armWrite() {
	if c.closing.Load() != 0 {
		return
	}
	now := time.Now()
	wt := c.pool.cfg.WriteTimeout
	if c.armedUntil-now.UnixNano() >= int64(wt) {
		return
	}
	deadline := now.Add(wt + wt/8)
	nc := c.ws.NetConn()
	_ = nc.SetWriteDeadline(deadline)
	c.armedUntil = deadline.UnixNano()
	if c.closing.Load() != 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
	}
}

// writeFailed closes a connection whose write failed: a peer that does
// not read within the write deadline is a slow consumer.
func (c *Conn) writeFailed(err error) {
	if isTimeout(err) {
		c.closeSlow("write deadline passed")
		return
	}
	c.Close(frame.CloseGoingAway, events.CauseError, "write failed")
}

// allowControl spends an inbound token for a ping or pong; past the
// inbound rate the connection is closed with frame.CloseRateLimited.
// Read goroutine only.
func (c *Conn) allowControl() bool {
	if c.Closing() {
		return false
	}
	if c.allowInbound(time.Now().UnixNano(), c.pool.cfg.InboundRate, c.pool.cfg.InboundBurst) {
		return true
	}
	c.rateLimited()
	return false
}

func (c *Conn) rateLimited() {
	if c.Close(frame.CloseRateLimited, events.CauseError, "inbound rate exceeded") {
		c.pool.notable(events.ConnRateLimited, c, "inbound rate exceeded")
	}
}
