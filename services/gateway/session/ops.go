package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// subscribe joins a channel, replaying the gap after since. Messages of
// the gap may reach the client before the reply; clients keep the last
// sequence per channel and drop anything at or below it.
func (h *Handler) subscribe(c *pool.Conn, f *frame.Client) {
	st := stateOf(c)
	if !st.Claims.CanSubscribe(f.Channel) {
		sendError(c, f.ID, frame.CodeForbidden, fmt.Sprintf("token may not subscribe to %q", f.Channel))
		return
	}
	_, already := st.subs[f.Channel]
	if !already && len(st.subs) >= h.cfg.MaxSubs {
		sendError(c, f.ID, frame.CodeBadFrame, fmt.Sprintf("at most %d channels per connection", h.cfg.MaxSubs))
		return
	}
	if already {
		// A second subscribe restarts the subscription from since.
		h.hub.Unsubscribe(f.Channel, c)
		delete(st.subs, f.Channel)
		c.AddSubs(-1)
	}
	// A resume's replay may be long: it is paced by the client's reading,
	// the hub bounds each NATS request. A live subscribe is bounded here.
	var since *channel.Position
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.OpTimeout)
	if f.Since != nil {
		since = &channel.Position{Seq: *f.Since, Epoch: f.Epoch}
		cancel()
		ctx, cancel = context.WithCancel(context.Background())
	}
	defer cancel()
	res, err := h.hub.Subscribe(ctx, f.Channel, c, since)
	if since != nil {
		c.Rested() // a replay held the read loop: pongs may wait unread
	}
	if err != nil {
		h.hubError(c, f.ID, "subscribe", err)
		return
	}
	if st.subs == nil {
		st.subs = make(map[string]struct{}, 1)
	}
	st.subs[f.Channel] = struct{}{}
	c.AddSubs(1)
	reply := frame.Server{Op: frame.OpReply, ID: f.ID, Channel: f.Channel, Seq: res.Seq, Epoch: res.Epoch}
	if f.Since != nil {
		rec := res.Recovered
		reply.Recovered = &rec
	}
	c.Send(reply.Encode())
}

func (h *Handler) unsubscribe(c *pool.Conn, f *frame.Client) {
	st := stateOf(c)
	if _, ok := st.subs[f.Channel]; !ok {
		sendError(c, f.ID, frame.CodeNotSubscribed, fmt.Sprintf("not subscribed to %q", f.Channel))
		return
	}
	h.hub.Unsubscribe(f.Channel, c)
	delete(st.subs, f.Channel)
	c.AddSubs(-1)
	c.Send((&frame.Server{Op: frame.OpReply, ID: f.ID, Channel: f.Channel}).Encode())
}

func (h *Handler) publish(c *pool.Conn, f *frame.Client) {
	st := stateOf(c)
	if !st.Claims.CanPublish(f.Channel) {
		sendError(c, f.ID, frame.CodeForbidden, fmt.Sprintf("token may not publish to %q", f.Channel))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.OpTimeout)
	defer cancel()
	seq, dup, err := h.hub.Publish(ctx, st.Claims.Subject, f.Channel, f.Data, f.Idem)
	if err != nil {
		h.hubError(c, f.ID, "publish", err)
		return
	}
	c.Send((&frame.Server{Op: frame.OpReply, ID: f.ID, Channel: f.Channel, Seq: seq, Duplicate: dup}).Encode())
}

// hubError answers a failed subscribe or publish: unavailable (retry) when
// NATS or JetStream did not answer, too_large for a message over the
// stream's limit, internal otherwise; a client too slow for its replay is
// closed with frame.CloseSlow (it resumes from what it got).
func (h *Handler) hubError(c *pool.Conn, id uint64, op string, err error) {
	h.onError()
	code := frame.CodeInternal
	switch {
	case errors.Is(err, channel.ErrSlow):
		if c.Close(frame.CloseSlow, events.CauseSlow, "too slow for its replay") {
			c.Notable(events.ConnSlowConsumer, err.Error())
		}
		return
	case errors.Is(err, channel.ErrTooLarge):
		sendError(c, id, frame.CodeTooLarge, err.Error())
		return
	case errors.Is(err, channel.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded):
		code = frame.CodeUnavailable
	}
	h.log.Warn().Err(err).Str("op", op).Str("conn_id", c.ID()).Msg("channel operation failed")
	sendError(c, id, code, op+" failed: "+err.Error())
}

// Reconnect encodes a reconnect hint.
func Reconnect(afterMS int64, url, reason string) []byte {
	return (&frame.Server{Op: frame.OpReconnect, AfterMS: afterMS, URL: url, Reason: reason}).Encode()
}
