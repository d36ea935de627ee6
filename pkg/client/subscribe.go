package client

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// Message is one channel message.
type Message struct {
	Channel string
	// Seq is the message's stream sequence: it only grows within a channel.
	Seq  uint64
	Data json.RawMessage
}

// Gap says that a resumed subscription could not be replayed in full
// (the server answered recovered:false): messages after After may be
// missing, typically because they left the retention window.
type Gap struct {
	Channel string
	After   uint64
}

// SubscribeOption tunes Subscribe.
type SubscribeOption func(*Subscription)

// WithGap sets the subscription's gap callback (instead of Config.OnGap).
// It is called in order with the handler.
func WithGap(f func(Gap)) SubscribeOption { return func(s *Subscription) { s.onGap = f } }

// WithSince starts the subscription after a sequence the caller delivered
// earlier (for example one it stored), replaying what it missed.
func WithSince(seq uint64) SubscribeOption {
	return func(s *Subscription) {
		s.last.Store(seq)
		s.hasLast.Store(true)
	}
}

// WithPosition starts the subscription after a position the caller
// delivered earlier: a sequence and the epoch (the channel stream's
// identity) it belongs to, as Message.Seq and Subscription.Epoch gave
// them. Against another epoch (the stream was recreated, or the position
// is from another deployment) the server answers recovered:false: the gap
// callback runs and the live flow follows.
func WithPosition(seq uint64, epoch string) SubscribeOption {
	return func(s *Subscription) {
		WithSince(seq)(s)
		if epoch != "" {
			s.epoch.Store(&epoch)
		}
	}
}

// Subscription is a channel subscription. The client keeps it across
// reconnects and resumes it from the last delivered sequence; its handler
// sees each message once, in sequence order.
type Subscription struct {
	c       *Client
	channel string
	handler func(Message)
	onGap   func(Gap)

	last    atomic.Uint64 // the position: last sequence accepted for delivery, or a later one a pos frame gave
	hasLast atomic.Bool
	epoch   atomic.Pointer[string] // the epoch last belongs to, from the server's replies
	gaps    atomic.Uint64
	dups    atomic.Uint64
	readied atomic.Bool
	ready   chan error

	// mu guards the resume awaiting its reply and what it holds (resume.go).
	mu        sync.Mutex
	resume    *request
	held      []Message
	heldBytes int
	heldOver  bool

	endOnce sync.Once
	done    chan struct{}
	err     error
}

// Subscribe subscribes to channel and waits for the server's answer (or
// for a connection and then the answer, while disconnected). The handler
// runs on the client's delivery goroutine, one message at a time for all
// subscriptions of the client. It should not block for long: while the
// delivery queue (Config.DeliveryBuffer) is full the client stops reading,
// so a handler must not wait for this client's Publish or Subscribe
// answers (run them in a goroutine).
func (c *Client) Subscribe(ctx context.Context, channel string, handler func(Message), opts ...SubscribeOption) (*Subscription, error) {
	if err := frame.ValidateChannel(channel); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if handler == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalid)
	}
	sub := &Subscription{c: c, channel: channel, handler: handler,
		ready: make(chan error, 1), done: make(chan struct{})}
	for _, o := range opts {
		o(sub)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if c.subs[channel] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrSubscribed, channel)
	}
	c.subs[channel] = sub
	live := c.live
	var r *request
	if live != nil {
		r = c.subscribeRequest(sub)
	}
	c.mu.Unlock()
	if r != nil {
		live.write(r.frame)
	}
	select {
	case err := <-sub.ready:
		if err != nil {
			return nil, err
		}
		return sub, nil
	case <-ctx.Done():
		c.dropSub(sub, ctx.Err())
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.Err()
	}
}

// subscribeRequest registers a subscribe request for sub; c.mu is held.
func (c *Client) subscribeRequest(sub *Subscription) *request {
	f := frame.Client{Op: frame.OpSubscribe, ID: c.ids.Add(1), Channel: sub.channel}
	if sub.hasLast.Load() {
		since := sub.last.Load()
		f.Since = &since
		f.Epoch = sub.Epoch()
	}
	b, _ := json.Marshal(f) // no field can fail to marshal
	r := &request{id: f.ID, kind: kindSubscribe, frame: b, sub: sub, since: f.Since, epoch: f.Epoch}
	c.pending[r.id] = r
	var resume *request
	if f.Since != nil {
		resume = r
	}
	sub.startResume(resume)
	return r
}

// dropSub forgets sub and tells the server, best effort.
func (c *Client) dropSub(sub *Subscription, err error) {
	c.mu.Lock()
	if c.subs[sub.channel] != sub {
		c.mu.Unlock()
		sub.end(err)
		return
	}
	delete(c.subs, sub.channel)
	live := c.live
	var r *request
	if live != nil {
		r = c.unsubscribeRequest(sub.channel)
	}
	c.mu.Unlock()
	sub.end(err)
	if r != nil {
		live.write(r.frame)
	}
}

// Unsubscribe ends the subscription and waits for the server's answer if
// connected. The handler is not called after Unsubscribe returns (except
// a call already running).
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	if c.subs[s.channel] != s {
		c.mu.Unlock()
		return nil
	}
	delete(c.subs, s.channel)
	live := c.live
	var r *request
	if live != nil {
		r = c.unsubscribeRequest(s.channel)
	}
	c.mu.Unlock()
	s.end(nil)
	if r == nil {
		return nil
	}
	live.write(r.frame)
	select {
	case res := <-r.done:
		return res.err
	case <-ctx.Done():
		c.take(r.id)
		return ctx.Err()
	case <-c.done:
		return nil
	}
}

// confirmed handles the reply to a subscribe request: the gap, if any,
// then what the resume held, then the live flow.
func (s *Subscription) confirmed(r *request, f frame.Server) {
	gap, held := s.settle(r, f)
	if gap != nil {
		s.c.enqueue(delivery{sub: s, gap: gap})
	}
	for _, m := range held {
		s.c.enqueue(delivery{sub: s, msg: m})
	}
	if s.readied.CompareAndSwap(false, true) {
		s.ready <- nil
	}
}

// failed handles an error frame answering a subscribe request.
func (s *Subscription) failed(sess *session, err *ServerError) {
	c := s.c
	if s.readied.CompareAndSwap(false, true) {
		c.dropSub(s, err)
		s.ready <- err
		return
	}
	if err.Retryable() {
		time.AfterFunc(time.Second, func() { c.resubscribe(sess, s) })
		return
	}
	c.log.Error().Err(err).Str("channel", s.channel).Msg("resubscribe refused; subscription ended")
	c.dropSub(s, err)
}

func (c *Client) resubscribe(sess *session, sub *Subscription) {
	c.mu.Lock()
	if c.live != sess || c.subs[sub.channel] != sub {
		c.mu.Unlock()
		return
	}
	r := c.subscribeRequest(sub)
	c.mu.Unlock()
	sess.write(r.frame)
}

func (s *Subscription) end(err error) {
	s.endOnce.Do(func() {
		s.err = err
		close(s.done)
	})
}

func (s *Subscription) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Channel is the subscribed channel.
func (s *Subscription) Channel() string { return s.channel }

// LastSeq is the subscription's position (0 before any): the last
// sequence accepted for delivery, or a later stream sequence up to which
// the server said the channel has no message (a pos frame, or a
// subscribe reply). Store it with Epoch to resume later.
func (s *Subscription) LastSeq() uint64 { return s.last.Load() }

// Epoch is the channel stream's identity LastSeq belongs to, as the
// server last said ("" before its first answer). Store it with LastSeq to
// resume later with WithPosition.
func (s *Subscription) Epoch() string {
	if e := s.epoch.Load(); e != nil {
		return *e
	}
	return ""
}

// Gaps counts resumes the server could not replay in full.
func (s *Subscription) Gaps() uint64 { return s.gaps.Load() }

// Duplicates counts messages dropped because their sequence was already
// delivered (the overlap of a replay and live traffic).
func (s *Subscription) Duplicates() uint64 { return s.dups.Load() }

// Done is closed when the subscription ends: Unsubscribe, or the server
// refused it. When the whole client stops, Client.Done is closed instead.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err says why the subscription ended (nil after Unsubscribe or while it
// runs).
func (s *Subscription) Err() error {
	if !s.ended() {
		return nil
	}
	return s.err
}
