package pool

import (
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
