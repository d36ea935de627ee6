package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nuid"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

type reqKind uint8

const (
	kindPublish reqKind = iota + 1
	kindSubscribe
	kindUnsubscribe
)

// request is a client frame waiting for its reply. Publishes survive
// reconnects (sent again with the same idem); subscribe and unsubscribe
// requests belong to one connection.
type request struct {
	id    uint64
	kind  reqKind
	frame []byte
	sub   *Subscription // subscribe
	since *uint64       // subscribe: the since sent
	epoch string        // subscribe: the epoch sent with since
	done  chan result   // publish, unsubscribe
}

type result struct {
	f   frame.Server
	err error
}

// Ack is the server's answer to a publish.
type Ack struct {
	// Seq is the message's stream sequence.
	Seq uint64
	// Duplicate: a retry of a publish already stored (stored once).
	Duplicate bool
}

// Publish sends data (a JSON value) to channel and waits for the server's
// acknowledgement. If the connection drops first, the publish is sent
// again on the next connection with the same idempotency id, so the
// server stores it once; "unavailable" and "rate_limited" answers are
// retried with backoff. Publish returns when acked, refused (a
// *ServerError), or when ctx ends or the client stops; in those last cases
// the message may or may not have been stored.
func (c *Client) Publish(ctx context.Context, channel string, data []byte) (Ack, error) {
	if err := frame.ValidateChannel(channel); err != nil {
		return Ack{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !json.Valid(data) {
		return Ack{}, fmt.Errorf("%w: data is not a JSON value", ErrInvalid)
	}
	idem := nuid.Next()
	for try := 1; ; try++ {
		r := c.publishRequest(channel, data, idem)
		res, err := c.await(ctx, r)
		if err != nil {
			return Ack{}, err
		}
		if res.err == nil {
			return Ack{Seq: res.f.Seq, Duplicate: res.f.Duplicate}, nil
		}
		se, ok := res.err.(*ServerError)
		if !ok || !se.Retryable() {
			return Ack{}, res.err
		}
		delay := time.Duration(rand.Int64N(int64(c.cfg.Backoff.Cap(try)) + 1))
		if err := sleepCtx(ctx, delay); err != nil {
			return Ack{}, err
		}
	}
}

// publishRequest registers the publish and sends it if connected.
func (c *Client) publishRequest(channel string, data []byte, idem string) *request {
	f := frame.Client{Op: frame.OpPublish, ID: c.ids.Add(1), Channel: channel, Data: data, Idem: idem}
	b, _ := json.Marshal(f) // data is valid JSON
	r := &request{id: f.ID, kind: kindPublish, frame: b, done: make(chan result, 1)}
	c.mu.Lock()
	c.pending[r.id] = r
	live := c.live
	c.mu.Unlock()
	if live != nil {
		live.write(r.frame)
	}
	return r
}

// await waits for the request's reply.
func (c *Client) await(ctx context.Context, r *request) (result, error) {
	select {
	case res := <-r.done:
		return res, nil
	case <-ctx.Done():
		c.take(r.id)
		return result{}, ctx.Err()
	case <-c.done:
		return result{}, c.Err()
	}
}

// unsubscribeRequest registers an unsubscribe; c.mu is held.
func (c *Client) unsubscribeRequest(channel string) *request {
	f := frame.Client{Op: frame.OpUnsubscribe, ID: c.ids.Add(1), Channel: channel}
	b, _ := json.Marshal(f)
	r := &request{id: f.ID, kind: kindUnsubscribe, frame: b, done: make(chan result, 1)}
	c.pending[r.id] = r
	return r
}

// online makes s the live session: subscriptions are sent again with
// their last sequence, then every unacknowledged publish.
func (c *Client) online(s *session) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.live = s
	var pubs, subs [][]byte
	for _, r := range c.pending {
		if r.kind == kindPublish {
			pubs = append(pubs, r.frame)
		}
	}
	for _, sub := range c.subs {
		subs = append(subs, c.subscribeRequest(sub).frame)
	}
	c.mu.Unlock()
	for _, b := range append(subs, pubs...) {
		s.write(b)
	}
}
