package pool

import (
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// This file holds what the channel hub needs of a connection beyond
// Deliver: Backlog and Closing pace a resume's replay (channel.Paced), and
// Restart asks the client to start over (channel.Restarter).

// Restart closes the connection with frame.CloseUnavailable after the
// frames already queued: the node cannot continue its channel flow (the
// channel stream was recreated under it, or a gap could not be filled),
// so the client reconnects and resumes, and learns where it stands.
func (c *Conn) Restart(reason string) {
	if c.CloseAfter(frame.CloseUnavailable, events.CauseError, reason) {
		c.Notable(events.ConnProtocol, "asked to resume: "+reason)
	}
}

// Rested restarts the pong deadline of a ping sent while the handler held
// the connection's read loop (a long replay): its pong may sit unread
// behind it, or the ping behind the replayed frames. The scanner does not
// call a busy connection stale; this gives it a full deadline once it is
// not busy any more, instead of closing it the moment the handler returns.
func (c *Conn) Rested() {
	if sent := c.pingSent.Load(); sent != 0 {
		c.pingSent.CompareAndSwap(sent, time.Now().UnixNano())
	}
}

// unsentBound is what BoundUnsent lets the kernel hold unsent.
const unsentBound = 64 << 10

// BoundUnsent caps the bytes the kernel holds unsent for the connection
// (TCP_NOTSENT_LOWAT, Linux): past it a write waits, so frames stay in the
// connection's own bounded queue, where Backlog sees them. Without it a
// socket's send buffer (up to megabytes) hides a client's lag: a replay
// paced by Backlog would run far ahead of the client, and a ping queued
// behind that data would miss its pong deadline.
func (c *Conn) BoundUnsent() {
	if nc := c.ws.NetConn(); nc != nil {
		boundUnsent(nc, unsentBound)
	}
}

// refuseBinary closes a connection that sent a binary frame with
// frame.CloseUnsupportedData: protocol v1 is JSON text frames only. It
// reports whether it did.
func refuseBinary(c *Conn, msg *gws.Message) bool {
	if msg.Opcode != gws.OpcodeBinary {
		return false
	}
	if c.CloseAfter(frame.CloseUnsupportedData, events.CauseError, "binary frames are not part of the protocol") {
		c.Notable(events.ConnProtocol, "binary frame")
	}
	return true
}
