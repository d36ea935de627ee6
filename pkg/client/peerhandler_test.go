package client

import (
	"context"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// peerHandler is the peer's gws event handler.
type peerHandler struct {
	gws.BuiltinEventHandler
	p *peer
}

func (h *peerHandler) OnOpen(c *gws.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	c.Session().Store("stop", cancel)
	go h.p.pingLoop(ctx, c)
	writeJSON(c, frame.Server{Op: frame.OpHello, Node: h.p.node, Session: "s1",
		Version: frame.ProtocolVersion, PingIntervalMS: h.p.ping.Milliseconds()})
	h.p.mu.Lock()
	kick := h.p.kick
	h.p.mu.Unlock()
	if kick != 0 {
		_ = c.WriteClose(kick, nil)
	}
}

func (h *peerHandler) OnClose(c *gws.Conn, _ error) {
	if v, ok := c.Session().Load("stop"); ok {
		v.(context.CancelFunc)()
	}
	p := h.p
	p.mu.Lock()
	_, known := p.conns[c]
	delete(p.conns, c)
	p.mu.Unlock()
	if known {
		p.hub.mu.Lock()
		p.hub.live--
		p.hub.mu.Unlock()
	}
}

func (h *peerHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer func() { _ = m.Close() }()
	if h.p.isSilent() {
		return
	}
	f, err := frame.DecodeClient(m.Bytes(), 0)
	if err != nil {
		writeJSON(c, frame.Server{Op: frame.OpError, ID: f.ID, Code: frame.CodeBadFrame, Message: err.Error()})
		return
	}
	switch f.Op {
	case frame.OpSubscribe:
		h.subscribe(c, f)
	case frame.OpUnsubscribe:
		h.p.mu.Lock()
		delete(h.p.conns[c], f.Channel)
		h.p.mu.Unlock()
		writeJSON(c, frame.Server{Op: frame.OpReply, ID: f.ID, Channel: f.Channel})
	case frame.OpPublish:
		h.publish(c, f)
	case frame.OpPing:
		writeJSON(c, frame.Server{Op: frame.OpPong})
	}
}

// subscribe replays after since (or answers recovered:false below the
// trim point), joins the live flow, then replies.
func (h *peerHandler) subscribe(c *gws.Conn, f frame.Client) {
	hub := h.p.hub
	hub.mu.Lock()
	recovered := true
	var replay []byte
	if f.Since != nil {
		if *f.Since < hub.trimBelow {
			recovered = false
		} else {
			for _, m := range hub.log[f.Channel] {
				if m.seq > *f.Since {
					replay = frame.AppendMessage(replay[:0], f.Channel, m.seq, m.data)
					_ = c.WriteMessage(gws.OpcodeText, replay)
				}
			}
		}
	}
	last := hub.seq
	h.p.mu.Lock()
	h.p.conns[c][f.Channel] = true
	h.p.mu.Unlock()
	hub.mu.Unlock()
	writeJSON(c, frame.Server{Op: frame.OpReply, ID: f.ID, Channel: f.Channel, Seq: last, Recovered: &recovered})
}

func (h *peerHandler) publish(c *gws.Conn, f frame.Client) {
	p := h.p
	p.mu.Lock()
	drop := p.dropNext
	p.dropNext = false
	p.mu.Unlock()
	seq, dup := p.hub.publish(f.Channel, f.Data, f.Idem)
	if drop {
		_ = c.NetConn().Close()
		return
	}
	writeJSON(c, frame.Server{Op: frame.OpReply, ID: f.ID, Channel: f.Channel, Seq: seq, Duplicate: dup})
}
