package pool

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// socketHandler receives gws's events and hands data frames to the
// protocol handler.
type socketHandler struct {
	p *Pool
}

func connOf(ws *gws.Conn) *Conn {
	if s, ok := ws.Session().(*slot); ok {
		return s.c
	}
	return nil
}

// OnOpen implements gws.Event.
func (h *socketHandler) OnOpen(ws *gws.Conn) {
	if c := connOf(ws); c != nil {
		h.p.handler.Open(c)
	}
}

// OnClose implements gws.Event.
func (h *socketHandler) OnClose(ws *gws.Conn, err error) {
	c := connOf(ws)
	if c == nil || !c.done.CompareAndSwap(false, true) {
		return
	}
	cause := closeCause(c, err)
	c.shard.remove(c)
	h.p.open.Add(-1)
	h.p.count.Add(-1)
	h.p.stats.closed[causeIndex(cause)].Add(1)
	if cause == events.CauseError {
		h.p.stats.errors.Add(1)
	}
	h.p.handler.Close(c, cause)
}

// closeCause is the cause a close is counted under: the one our side
// chose, else the client's doing (a close frame or EOF), else an error.
func closeCause(c *Conn, err error) string {
	if i := c.closing.Load(); i != 0 {
		return causes[i-1]
	}
	var ce *gws.CloseError
	switch {
	case errors.As(err, &ce), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return events.CauseClient
	case errors.Is(err, gws.ErrMessageTooLarge), isTooLarge(err):
		c.pool.notable(events.ConnProtocol, c, "frame over the size limit")
		return events.CauseError
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return events.CauseClient // reset by peer, broken pipe
	}
	return events.CauseError
}

func isTooLarge(err error) bool {
	type coded interface{ Uint16() uint16 }
	var sc coded
	return errors.As(err, &sc) && sc.Uint16() == 1009
}

// OnPing implements gws.Event: answer with the same payload.
func (h *socketHandler) OnPing(ws *gws.Conn, payload []byte) {
	ws.WriteAsync(gws.OpcodePong, payload, nil)
}

// OnPong implements gws.Event: the outstanding ping is answered; its
// payload carries the send time (a peer that answers with an empty pong
// is measured from the recorded send time).
func (h *socketHandler) OnPong(ws *gws.Conn, payload []byte) {
	c := connOf(ws)
	if c == nil {
		return
	}
	sent := c.pingSent.Load()
	if sent == 0 {
		return // unsolicited pong: a keepalive, allowed by RFC 6455
	}
	if len(payload) == 8 {
		if ts := int64(binary.BigEndian.Uint64(payload)); ts >= sent {
			sent = ts
		}
	}
	rtt := time.Duration(time.Now().UnixNano() - sent)
	c.pingSent.Store(0)
	c.rttMicros.Store(rtt.Microseconds())
	h.p.rtt.observe(rtt)
	if f := h.p.OnRTT; f != nil {
		f(rtt)
	}
}

// OnMessage implements gws.Event: inbound rate, then the handler.
func (h *socketHandler) OnMessage(ws *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	c := connOf(ws)
	if c == nil || c.Closing() || refuseBinary(c, msg) {
		return
	}
	now := time.Now().UnixNano()
	c.lastActive.Store(now)
	h.p.stats.msgsIn.Add(1)
	if !c.allowInbound(now, h.p.cfg.InboundRate, h.p.cfg.InboundBurst) {
		if c.Close(frame.CloseRateLimited, events.CauseError, "inbound rate exceeded") {
			h.p.notable(events.ConnRateLimited, c, "inbound rate exceeded")
		}
		return
	}
	// While the handler waits (a subscribe replaying from JetStream, a
	// publish awaiting its ack) the read loop cannot see pongs: the
	// scanner does not call the connection stale meanwhile.
	c.busy.Store(true)
	h.handle(c, msg.Bytes())
	c.busy.Store(false)
}

// handle runs the handler on a short-lived goroutine and waits for it.
// A subscribe's call chain (strict JSON decoding, the channel hub,
// JetStream) is deep; run on the read goroutine it would grow that stack
// for good, and every idle connection would keep the larger stack (about
// 4 KiB more per connection at 10 k connections, measured by the bench
// suite). The short-lived goroutine's stack goes back to the runtime when
// it ends. Calls for one connection stay in order: the read loop waits.
func (h *socketHandler) handle(c *Conn, data []byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.p.handler.Message(c, data)
	}()
	<-done
}

// slot is the gws session of a connection: just its *Conn, stored before
// the read loop starts (gws's default is a map per connection).
type slot struct{ c *Conn }

func newSlot() gws.SessionStorage { return &slot{} }

// Len implements gws.SessionStorage.
func (s *slot) Len() int {
	if s.c == nil {
		return 0
	}
	return 1
}

// Load implements gws.SessionStorage.
func (s *slot) Load(string) (any, bool) { return s.c, s.c != nil }

// Delete implements gws.SessionStorage.
func (s *slot) Delete(string) { s.c = nil }

// Store implements gws.SessionStorage.
func (s *slot) Store(_ string, v any) { s.c, _ = v.(*Conn) }

// Range implements gws.SessionStorage.
func (s *slot) Range(f func(string, any) bool) {
	if s.c != nil {
		f("", s.c)
	}
}
