package pool

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
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
		defer h.p.recoverPanic(c, "open")
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
	if c.release != nil {
		defer c.release()
	}
	defer h.p.recoverPanic(c, "close")
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

// OnPing implements gws.Event: answer the latest ping with its payload
// (one pong pending at most). Pings count against the inbound rate.
func (h *socketHandler) OnPing(ws *gws.Conn, payload []byte) {
	if c := connOf(ws); c != nil && c.allowControl() {
		c.answerPing(payload)
	}
}

// OnPong implements gws.Event: a pong that echoes the outstanding ping
// answers it; any other pong only counts against the inbound rate.
func (h *socketHandler) OnPong(ws *gws.Conn, payload []byte) {
	c := connOf(ws)
	if c == nil || !c.allowControl() {
		return
	}
	rtt, ok := c.acceptPong(payload, time.Now().UnixNano())
	if !ok {
		return
	}
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
	c.msgsIn.Add(1)
	if !c.allowInbound(now, h.p.cfg.InboundRate, h.p.cfg.InboundBurst) {
		c.rateLimited()
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
		defer h.p.recoverPanic(c, "message")
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

// recoverPanic turns a panic of the protocol handler into the close of
// its connection (frame.CloseInternalError), logged and counted; the node
// keeps serving. Deferred by every call into the handler.
func (p *Pool) recoverPanic(c *Conn, during string) {
	v := recover()
	if v == nil {
		return
	}
	p.stats.panics.Add(1)
	p.log.Error().Str("conn_id", c.id).Str("during", during).Interface("panic", v).
		Bytes("stack", debug.Stack()).Msg("handler panicked: connection closed")
	c.Close(frame.CloseInternalError, events.CauseError, "internal error")
}

// readLoop runs gws's read loop of c. Should the loop itself panic (the
// handler's panics are recovered closer to it), the socket is dropped and
// the connection's close bookkeeping done here; the node keeps serving.
func (p *Pool) readLoop(c *Conn) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		p.stats.panics.Add(1)
		p.log.Error().Str("conn_id", c.id).Interface("panic", v).Bytes("stack", debug.Stack()).Msg("read loop panicked: connection dropped")
		c.kill()
		(&socketHandler{p: p}).OnClose(c.ws, fmt.Errorf("pool: read loop panicked: %v", v))
	}()
	c.ws.ReadLoop()
}
