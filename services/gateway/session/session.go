// Package session speaks the client protocol v1 (pkg/events/frame) over
// the pool's connections: hello, subscribe with resume, unsubscribe,
// publish with acknowledgement, ping, and error frames. A malformed frame
// gets an error frame and the connection keeps serving; a connection that
// keeps sending them is closed with frame.CloseBadRequest.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/services/gateway/auth"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// Hub is the channel fan-out the protocol drives: a *channel.Hub, which
// the gateway wraps to time it. Subscribe with since may replay a long
// gap: its ctx has no deadline, the hub bounds each NATS request and
// stops a replay whose subscriber reads nothing (channel.ErrSlow). The
// session answers channel.ErrUnavailable, channel.ErrSlow and
// channel.ErrTooLarge each in its own way.
type Hub interface {
	Subscribe(ctx context.Context, ch string, sub channel.Subscriber, since *channel.Position) (channel.SubscribeResult, error)
	Unsubscribe(ch string, sub channel.Subscriber)
	// Publish stores data; idem is scoped to (identity, channel).
	Publish(ctx context.Context, identity, ch string, data []byte, idem string) (seq uint64, duplicate bool, err error)
	// Epoch is the channel stream's identity for the hello frame.
	Epoch() string
}

// Config tunes the protocol.
type Config struct {
	Node       string
	MaxMessage int
	MaxSubs    int           // channels per connection
	MaxErrors  int           // bad frames before frame.CloseBadRequest
	OpTimeout  time.Duration // bound of one subscribe or publish
}

// PingInterval tells clients in the hello frame how often they are pinged.
type PingInterval func() time.Duration

// State is one connection's protocol state, kept in pool.Conn.Data.
type State struct {
	Claims *auth.Claims
	subs   map[string]struct{}
	errors int
}

// NewState returns the state of a connection with claims.
func NewState(c *auth.Claims) *State { return &State{Claims: c} }

// Handler implements pool.Handler.
type Handler struct {
	cfg  Config
	hub  Hub
	ping PingInterval
	log  zerolog.Logger
	// onError counts a protocol error (for metrics), if set.
	onError func()
	// helloHead is the hello frame up to the session id.
	helloHead []byte
}

// New returns the protocol handler.
func New(cfg Config, hub Hub, ping PingInterval, onError func(), log zerolog.Logger) *Handler {
	if cfg.MaxSubs <= 0 {
		cfg.MaxSubs = 100
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = 10
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	if onError == nil {
		onError = func() {}
	}
	node, _ := json.Marshal(cfg.Node)
	head := append([]byte(`{"op":"hello","node":`), node...)
	head = append(head, `,"session":"`...)
	return &Handler{cfg: cfg, hub: hub, ping: ping, onError: onError, helloHead: head,
		log: log.With().Str("component", "session").Logger()}
}

func stateOf(c *pool.Conn) *State {
	st, _ := c.Data.(*State)
	if st == nil {
		st = NewState(auth.AllowAll)
		c.Data = st
	}
	return st
}

// Open implements pool.Handler: the hello frame.
func (h *Handler) Open(c *pool.Conn) {
	c.BoundUnsent() // Backlog then measures the client's lag: replays are paced by it
	c.SendFirst(h.hello(c.ID()))
}

// hello encodes the hello frame by hand: it is written on the read
// goroutine, whose stack should stay that of an idle connection.
func (h *Handler) hello(session string) []byte {
	b := make([]byte, 0, len(h.helloHead)+len(session)+64)
	b = append(b, h.helloHead...)
	b = append(b, session...) // a nuid: letters and digits
	b = append(b, `","version":`...)
	b = strconv.AppendInt(b, frame.ProtocolVersion, 10)
	b = append(b, `,"ping_interval_ms":`...)
	b = strconv.AppendInt(b, h.ping().Milliseconds(), 10)
	if e := h.epoch(); e != "" {
		b = append(b, `,"epoch":"`...)
		b = append(b, e...) // base 36: letters and digits
		b = append(b, '"')
	}
	return append(b, '}')
}

// epoch is the channel stream's identity for the hello, "" if unknown.
func (h *Handler) epoch() string {
	if h.hub == nil {
		return ""
	}
	return h.hub.Epoch()
}

// Close implements pool.Handler: leave every channel.
func (h *Handler) Close(c *pool.Conn, _ string) {
	st := stateOf(c)
	for ch := range st.subs {
		h.hub.Unsubscribe(ch, c)
	}
	c.AddSubs(-len(st.subs))
	st.subs = nil
}

// Message implements pool.Handler. Only text frames reach it: the pool
// closes a connection that sends a binary frame (see docs/protocol.md).
func (h *Handler) Message(c *pool.Conn, data []byte) {
	f, err := frame.DecodeClient(data, h.cfg.MaxMessage)
	if err != nil {
		h.badFrame(c, f.ID, err)
		return
	}
	switch f.Op {
	case frame.OpPing:
		c.Send((&frame.Server{Op: frame.OpPong, ID: f.ID}).Encode())
	case frame.OpSubscribe:
		h.subscribe(c, &f)
	case frame.OpUnsubscribe:
		h.unsubscribe(c, &f)
	case frame.OpPublish:
		h.publish(c, &f)
	}
}

func (h *Handler) badFrame(c *pool.Conn, id uint64, err error) {
	h.onError()
	code := frame.CodeBadFrame
	switch {
	case errors.Is(err, frame.ErrUnknownOp):
		code = frame.CodeUnknownOp
	case errors.Is(err, frame.ErrTooLarge):
		code = frame.CodeTooLarge
	}
	sendError(c, id, code, err.Error())
	st := stateOf(c)
	if st.errors++; st.errors >= h.cfg.MaxErrors {
		if c.CloseAfter(frame.CloseBadRequest, events.CauseError, "too many bad frames") {
			c.Notable(events.ConnProtocol, "too many bad frames: "+err.Error())
		}
	}
}

func sendError(c *pool.Conn, id uint64, code, msg string) {
	c.Send((&frame.Server{Op: frame.OpError, ID: id, Code: code, Message: msg}).Encode())
}
