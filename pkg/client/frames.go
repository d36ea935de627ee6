package client

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// handle dispatches one server frame. Malformed frames are logged and
// skipped: the connection stays up.
func (s *session) handle(b []byte) {
	if ch, seq, data, ok := parseMsg(b); ok {
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

var (
	msgPrefix  = []byte(`{"op":"msg","channel":"`)
	seqField   = []byte(`","seq":`)
	dataField  = []byte(`,"data":`)
	whitespace = " \t\r\n"
)

// parseMsg is the fast path for msg frames in the exact layout of
// frame.AppendMessage. It returns ok only when frame.DecodeServer would
// decode the same channel, seq and data; anything else takes the slow
// path. data aliases b.
func parseMsg(b []byte) (channel []byte, seq uint64, data []byte, ok bool) {
	rest, found := bytes.CutPrefix(b, msgPrefix)
	if !found {
		return nil, 0, nil, false
	}
	i := bytes.IndexByte(rest, '"')
	if i <= 0 {
		return nil, 0, nil, false
	}
	channel = rest[:i]
	for _, c := range channel {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, 0, nil, false
		}
	}
	if rest, found = bytes.CutPrefix(rest[i:], seqField); !found {
		return nil, 0, nil, false
	}
	seq, n := parseSeq(rest)
	if n == 0 {
		return nil, 0, nil, false
	}
	if rest, found = bytes.CutPrefix(rest[n:], dataField); !found {
		return nil, 0, nil, false
	}
	if len(rest) < 2 || rest[len(rest)-1] != '}' {
		return nil, 0, nil, false
	}
	data = rest[:len(rest)-1]
	if bytes.IndexByte([]byte(whitespace), data[0]) >= 0 ||
		bytes.IndexByte([]byte(whitespace), data[len(data)-1]) >= 0 || !json.Valid(data) {
		return nil, 0, nil, false
	}
	return channel, seq, data, true
}

// parseSeq reads a JSON positive integer without leading zeros; n is 0
// when there is none or it overflows.
func parseSeq(b []byte) (seq uint64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		d := uint64(b[n] - '0')
		if seq > (^uint64(0)-d)/10 {
			return 0, 0
		}
		seq = seq*10 + d
		n++
	}
	if n == 0 || b[0] == '0' {
		return 0, 0
	}
	return seq, n
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
