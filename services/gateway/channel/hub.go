package channel

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
)

// Errors of the hub; each is wrapped with detail.
var (
	// ErrClosed: the hub was closed.
	ErrClosed = errors.New("channel: hub closed")
	// ErrUnavailable: NATS or JetStream did not answer; the caller may retry.
	ErrUnavailable = errors.New("channel: jetstream unavailable")
	// ErrSubscribed: the subscriber already holds this channel.
	ErrSubscribed = errors.New("channel: already subscribed")
	// ErrSlow: the subscriber refused part of its replay (queue full or
	// closing) or read nothing for Config.ReplayStall; it was not
	// subscribed.
	ErrSlow = errors.New("channel: subscriber too slow for its replay")
	// ErrTooLarge: a publish over the stream's message size limit.
	ErrTooLarge = errors.New("channel: message over the stream's size limit")
)

// Subscriber receives a channel's frames: msg frames, and pos frames that
// move a quiet channel's position (see the package doc). Deliver must not
// block: it enqueues
// the frame (shared, read-only bytes: never modify or retain-and-mutate)
// and returns false if its send queue is full. On false the hub drops that
// subscriber from the channel (the connection then closes itself with
// frame.CloseSlow and the client resumes, losing nothing). Deliver is
// called from one goroutine at a time per channel and must not call back
// into the Hub. Once Unsubscribe returns, Deliver is not called again for
// that channel. Implementations must be comparable (a pointer type).
type Subscriber interface {
	Deliver(frame []byte) bool
}

// Batcher is implemented by subscribers that take several frames of a
// channel at once (pool.Conn): DeliverRun is Deliver of each frame in
// order, all or none; false (the send queue cannot take them all) drops
// the subscriber as Deliver's false does. The same rules apply: it must
// not block, and frames and the slice are shared and read-only (the
// slice is reused once DeliverRun returns: copy what is kept). The hub
// hands live messages that arrived together to a Batcher in one call.
type Batcher interface {
	Subscriber
	DeliverRun(frames [][]byte) bool
}

// Paced is implemented by subscribers whose replay is flow-controlled
// (pool.Conn): a replay keeps at most Config.ReplayWindow frames queued
// on it, waiting for Backlog to fall, and stops when Closing.
type Paced interface {
	Backlog() int
	Closing() bool
}

// Restarter is implemented by subscribers that can be asked to start over
// (pool.Conn closes with a reconnect code): the hub does so when the
// channel stream was recreated under a live subscription, whose positions
// mean nothing in the new epoch. Other subscribers simply stay.
type Restarter interface {
	Restart(reason string)
}

// Config tunes a Hub; zero fields take their defaults.
type Config struct {
	// FetchTimeout bounds one NATS request: a page read, a stream info
	// (default 5s).
	FetchTimeout time.Duration `envconfig:"FETCH_TIMEOUT" default:"5s" desc:"bound on one JetStream read of the data plane (a page of a replay or gap fill, a stream info)"`
	// PageSize and PageBytes bound one page of a replay or gap fill
	// (default 512 messages, 256 KiB).
	PageSize  int `ignored:"true"`
	PageBytes int `ignored:"true"`
	// ReplayWindow is how many frames a replay keeps queued on a Paced
	// subscriber (default 256).
	ReplayWindow int `envconfig:"REPLAY_WINDOW" default:"256" desc:"frames a resume's replay keeps queued on its connection (below SEND_QUEUE): the replay follows the client's reading pace"`
	// ReplayStall is how long a replay waits for a subscriber that reads
	// nothing before giving up with ErrSlow (default 15s).
	ReplayStall time.Duration `envconfig:"REPLAY_STALL" default:"15s" desc:"a replay that makes no progress this long ends: its client read nothing (closed 4002), NATS did not answer (error unavailable), or the stream no longer holds the end of the gap (recovered:false)"`
	// MarkEvery is how often the hub moves quiet channels' positions
	// forward (pos frames; default 1s), MarkBatch how many channels it
	// looks at per tick at most (default 512).
	MarkEvery time.Duration `ignored:"true"`
	MarkBatch int           `ignored:"true"`
}

func (c Config) withDefaults() Config {
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 5 * time.Second
	}
	if c.PageSize <= 0 {
		c.PageSize = 512
	}
	if c.PageBytes <= 0 {
		c.PageBytes = 256 << 10
	}
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = 256
	}
	if c.ReplayStall <= 0 {
		c.ReplayStall = 15 * time.Second
	}
	if c.MarkEvery <= 0 {
		c.MarkEvery = time.Second
	}
	if c.MarkBatch <= 0 {
		c.MarkBatch = 512
	}
	return c
}

// Hub holds one core NATS subscription per channel with local subscribers
// and fans each message out to them. It is safe for concurrent use.
type Hub struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	log zerolog.Logger

	mu       sync.Mutex
	closed   bool
	channels map[string]*topic
	state    streamState
	call     *streamCall   // the stream info request in flight, if any
	done     chan struct{} // closed by Close: stops markLoop
	pages    pageCache     // first pages shared by replays

	counters
}

// NewHub returns a hub that reads and publishes through nc and js (js
// runs on nc). It chains itself to nc's reconnect and error handlers: a
// reconnect re-reads every channel's last sequence and fills what the
// disconnect missed.
func NewHub(nc *nats.Conn, js jetstream.JetStream, cfg Config, log zerolog.Logger) *Hub {
	h := &Hub{
		nc:       nc,
		js:       js,
		cfg:      cfg.withDefaults(),
		log:      log.With().Str("component", "channel").Logger(),
		channels: make(map[string]*topic),
		done:     make(chan struct{}),
	}
	go h.markLoop()
	prevRe := nc.ReconnectHandler()
	nc.SetReconnectHandler(func(c *nats.Conn) {
		if prevRe != nil {
			prevRe(c)
		}
		go h.resync()
	})
	prevErr := nc.ErrorHandler()
	nc.SetErrorHandler(func(c *nats.Conn, s *nats.Subscription, err error) {
		if prevErr != nil {
			prevErr(c, s, err)
		}
		if s != nil && errors.Is(err, nats.ErrSlowConsumer) {
			go h.resyncSubject(s.Subject)
		}
	})
	return h
}

// Position is where a resuming subscriber stands: the last sequence it
// delivered and the epoch that sequence belongs to ("" : the current one).
type Position struct {
	Seq   uint64
	Epoch string
}

// SubscribeResult tells a subscriber where it stands.
type SubscribeResult struct {
	// Seq is the stream position the subscriber is at once Subscribe
	// returns: the channel has no message at or below it that the
	// subscriber is owed and was not given (replayed). It is the last
	// sequence replayed, or for a live subscription the later of the
	// channel's last sequence and the stream's last one as known at
	// subscribe time (0 on an empty stream). Live messages follow with
	// larger sequences.
	Seq uint64
	// Epoch is the channel stream's identity Seq belongs to.
	Epoch string
	// Recovered is true when since was nil, or the whole gap after it was
	// replayed.
	Recovered bool
	// Replayed and ReplayedBytes are what the resume delivered.
	Replayed, ReplayedBytes int
}

// Subscribe adds sub to channel. With since == nil it delivers the live
// flow only. With since it first delivers, through sub.Deliver and before
// returning, every message of the channel after since.Seq in order, paced
// by the subscriber's backlog (see Paced), then the live flow, with no gap
// and no duplicate; if that gap cannot be replayed in full (see the
// package doc) it answers Recovered=false and delivers live messages only.
// ctx bounds waiting for NATS, not a replay that makes progress. It
// returns ErrClosed, ErrUnavailable, ErrSubscribed or ErrSlow (wrapped),
// or ctx's error.
func (h *Hub) Subscribe(ctx context.Context, channel string, sub Subscriber, since *Position) (SubscribeResult, error) {
	t, err := h.acquire(ctx, channel)
	if err != nil {
		countErr(&h.subscribeErrors, err)
		return SubscribeResult{}, err
	}
	res, err := t.join(ctx, sub, since)
	if err != nil {
		countErr(&h.subscribeErrors, err)
		h.release(t)
		return SubscribeResult{}, err
	}
	h.subscribes.Add(1)
	return res, nil
}

// countErr counts a failed subscribe or publish that is the node's
// trouble, not the client's.
func countErr(c *atomic.Uint64, err error) {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		c.Add(1)
	}
}

// Unsubscribe removes sub from channel. It is idempotent. Once it returns,
// sub.Deliver is not called again for this channel.
func (h *Hub) Unsubscribe(channel string, sub Subscriber) {
	h.mu.Lock()
	t := h.channels[channel]
	h.mu.Unlock()
	if t == nil {
		return
	}
	// Under fanMu: no fan-out holds sub in its snapshot any more.
	t.fanMu.Lock()
	removed := t.remove(sub)
	t.fanMu.Unlock()
	if removed {
		h.release(t)
	}
}

// Publish stores data (valid JSON) on channel through JetStream. A
// non-empty idem is scoped to (identity, channel): the message id is
// derived from the three, so a retry with the same key by the same
// identity on the same channel within the stream's duplicate window is
// stored once and answers the first sequence with duplicate=true, and the
// same key elsewhere is another message.
func (h *Hub) Publish(ctx context.Context, identity, channel string, data []byte, idem string) (seq uint64, duplicate bool, err error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return 0, false, ErrClosed
	}
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(events.StreamChannels)}
	if idem != "" {
		opts = append(opts, jetstream.WithMsgID(MessageID(identity, channel, idem)))
	}
	ack, err := h.js.Publish(ctx, events.ChannelSubject(channel), data, opts...)
	switch {
	case err == nil:
		h.publishes.Add(1)
		return ack.Sequence, ack.Duplicate, nil
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return 0, false, fmt.Errorf("%w: %d bytes on %s", ErrTooLarge, len(data), channel)
	case ctx.Err() != nil:
		h.publishErrors.Add(1)
		return 0, false, fmt.Errorf("channel: publish on %s: %w", channel, ctx.Err())
	}
	h.publishErrors.Add(1)
	return 0, false, fmt.Errorf("%w: publish on %s: %v", ErrUnavailable, channel, err)
}

// MessageID is the JetStream message id (Nats-Msg-Id) of a publish with
// idem key by identity (the token's subject, "" when anonymous) on
// channel: a hash of the three, so keys never collide across channels or
// identities.
func MessageID(identity, channel, key string) string {
	h := sha256.New()
	for _, s := range []string{identity, channel, key} {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(s)>>24), byte(len(s)>>16), byte(len(s)>>8), byte(len(s))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// Close stops every channel; Subscribe and Publish after Close return
// ErrClosed. Subscribers are not told: their owner closes them.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	topics := h.channels
	h.channels = make(map[string]*topic)
	h.mu.Unlock()
	for _, t := range topics {
		t.stop()
		t.clear()
	}
}

// acquire returns the running topic of channel, starting it if needed, and
// holds a reference on it for the caller.
func (h *Hub) acquire(ctx context.Context, channel string) (*topic, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	t := h.channels[channel]
	creator := t == nil
	if creator {
		t = newTopic(h, channel)
		h.channels[channel] = t
	}
	t.refs++
	h.mu.Unlock()
	if creator {
		t.startErr = t.start(ctx)
		if t.startErr != nil {
			h.mu.Lock()
			if h.channels[channel] == t {
				delete(h.channels, channel)
			}
			h.mu.Unlock()
		}
		close(t.ready)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		h.release(t)
		return nil, ctx.Err()
	}
	if t.startErr != nil {
		h.release(t)
		return nil, t.startErr
	}
	return t, nil
}

// release drops a reference on t and stops it when none is left.
func (h *Hub) release(t *topic) {
	h.mu.Lock()
	t.refs--
	last := t.refs == 0
	if last && h.channels[t.name] == t {
		delete(h.channels, t.name)
	}
	h.mu.Unlock()
	if last {
		t.stop()
	}
}

// messageData returns payload as the JSON value of a msg frame: payload
// itself when it is JSON in valid UTF-8 (client publishes always are),
// else payload as a JSON string (invalid UTF-8 becomes U+FFFD), reported
// by quoted. The frame goes out as a WebSocket text frame, which must be
// UTF-8 (json.Valid alone accepts invalid UTF-8 inside strings); checked
// here once per message, not per subscriber.
func messageData(payload []byte) (data []byte, quoted bool) {
	if utf8.Valid(payload) && json.Valid(payload) {
		return payload, false
	}
	b, _ := json.Marshal(string(payload)) // a string always marshals
	return b, true
}
