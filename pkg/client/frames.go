package client

import (
	"bytes"
	"errors"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// handle dispatches one server frame. Malformed frames are logged and
// skipped: the connection stays up.
func (s *session) handle(b []byte) {
	if ch, seq, data, ok := frame.ParseMessage(b); ok {
		s.c.onMessage(s, ch, seq, data)
		return
	}
	f, err := frame.DecodeServer(b)
	if errors.Is(err, frame.ErrUnknownOp) {
		// A newer server's frame: ignored, as the protocol asks.
		s.c.log.Debug().Err(err).Msg("skipping server frame of an unknown op")
		return
	}
	if err != nil {
		s.c.log.Warn().Err(err).Int("bytes", len(b)).Msg("skipping bad server frame")
		return
	}
	switch f.Op {
	case frame.OpHello:
		s.onHello(f)
	case frame.OpReply:
		s.c.onReply(s, f)
	case frame.OpError:
		s.c.onError(s, f)
	case frame.OpReconnect:
		s.onHint(f)
	case frame.OpMessage:
		s.c.onMessage(s, []byte(f.Channel), f.Seq, f.Data)
	case frame.OpPosition:
		s.c.onPosition(f.Channel, f.Seq)
	}
}

// onMessage delivers a channel message once, in order: anything at or
// below the last delivered sequence (a replay overlap) is dropped, except
// while a resume waits for its reply (Subscription.accept).
func (c *Client) onMessage(s *session, channel []byte, seq uint64, data []byte) {
	c.mu.Lock()
	sub := c.subs[string(channel)]
	c.mu.Unlock()
	if sub == nil {
		return
	}
	deliver, overflow := sub.accept(seq, data)
	if overflow {
		s.overflowed(sub)
	}
	if deliver {
		c.enqueue(delivery{sub: sub, msg: Message{Channel: sub.channel, Seq: seq, Data: bytes.Clone(data)}})
	}
}

// onPosition moves a subscription's position to seq: the server says its
// channel has no message after the position up to seq.
func (c *Client) onPosition(channel string, seq uint64) {
	c.mu.Lock()
	sub := c.subs[channel]
	c.mu.Unlock()
	if sub != nil {
		sub.advance(seq)
	}
}

// onReply completes the request the reply names.
func (c *Client) onReply(s *session, f frame.Server) {
	r := c.take(f.ID)
	if r == nil {
		return
	}
	if r.sub != nil {
		r.sub.confirmed(r, f)
		return
	}
	r.done <- result{f: f}
}

// onError completes a request with the server's error, or logs an error
// about the connection.
func (c *Client) onError(s *session, f frame.Server) {
	err := &ServerError{Code: f.Code, Message: f.Message}
	r := c.take(f.ID)
	if r == nil {
		c.log.Warn().Str("code", f.Code).Str("message", f.Message).Uint64("id", f.ID).Msg("server error")
		return
	}
	if r.sub != nil {
		r.sub.endResume(r)
		r.sub.failed(s, err)
		return
	}
	r.done <- result{err: err}
}

// take removes and returns the pending request with the id.
func (c *Client) take(id uint64) *request {
	if id == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.pending[id]
	delete(c.pending, id)
	return r
}

// delivery is a message or a gap on its way to a subscription's callbacks.
type delivery struct {
	sub *Subscription
	msg Message
	gap *Gap
}

// enqueue hands a delivery to the delivery goroutine; it blocks while the
// queue is full (back-pressure on the reader) unless the client stops.
func (c *Client) enqueue(d delivery) {
	select {
	case c.deliveries <- d:
	case <-c.ctx.Done():
	}
}

// dispatch is the delivery goroutine: handlers run here, in order.
func (c *Client) dispatch() {
	for {
		select {
		case d := <-c.deliveries:
			if c.ctx.Err() != nil || d.sub.ended() {
				continue
			}
			if d.gap != nil {
				c.deliverGap(d.sub, *d.gap)
				continue
			}
			d.sub.handler(d.msg)
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Client) deliverGap(sub *Subscription, g Gap) {
	switch {
	case sub.onGap != nil:
		sub.onGap(g)
	case c.cfg.OnGap != nil:
		c.cfg.OnGap(g)
	}
}
