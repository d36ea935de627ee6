package channel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
	// ErrSlow: the subscriber refused part of its replay (queue full); it
	// was not subscribed.
	ErrSlow = errors.New("channel: subscriber too slow for its replay")
)

// Subscriber receives channel messages. Deliver must not block: it enqueues
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

// Config tunes a Hub; zero fields take their defaults.
type Config struct {
	// HistorySize is how many messages are kept in memory per channel for
	// resume (default 1024).
	HistorySize int
	// FetchTimeout bounds a JetStream replay and the start of a channel
	// consumer (default 5s).
	FetchTimeout time.Duration
	// MaxReplay is the most messages one resume replays before answering
	// Recovered=false (default 10000).
	MaxReplay int
}

func (c Config) withDefaults() Config {
	if c.HistorySize <= 0 {
		c.HistorySize = 1024
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = 5 * time.Second
	}
	if c.MaxReplay <= 0 {
		c.MaxReplay = 10000
	}
	return c
}

// Hub holds one JetStream ordered consumer per channel with local
// subscribers and fans each message out to them. It is safe for
// concurrent use.
type Hub struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	log zerolog.Logger

	mu       sync.Mutex
	closed   bool
	channels map[string]*topic

	subscribers atomic.Int64
	msgsIn      atomic.Uint64
	msgsOut     atomic.Uint64
	dropped     atomic.Uint64
	nonJSON     atomic.Uint64
	fetches     atomic.Uint64

	// fetchHook, if set (tests), runs when a JetStream replay has read
	// its messages, before it checks retention again and joins the
	// history.
	fetchHook func(from uint64)
}

// NewHub returns a hub that consumes and publishes through js (nc is the
// connection js runs on).
func NewHub(nc *nats.Conn, js jetstream.JetStream, cfg Config, log zerolog.Logger) *Hub {
	return &Hub{
		nc:       nc,
		js:       js,
		cfg:      cfg.withDefaults(),
		log:      log.With().Str("component", "channel").Logger(),
		channels: make(map[string]*topic),
	}
}

// SubscribeResult tells a subscriber where it stands.
type SubscribeResult struct {
	// Seq is the stream position the subscriber is at once Subscribe
	// returns: the last stream sequence of this channel delivered or known
	// at subscribe time (0 if none). Live messages follow with larger
	// sequences.
	Seq uint64
	// Recovered is true when since was nil, or the whole gap after since
	// was replayed.
	Recovered bool
	// Replayed is how many messages the resume delivered.
	Replayed int
}

// Subscribe adds sub to channel. With since == nil it delivers the live
// flow only. With since it first delivers, through sub.Deliver and before
// returning, every message of the channel with a stream sequence above
// *since in order, then the live flow, with no gap and no duplicate; if
// that gap cannot be replayed in full (see the package doc) it answers
// Recovered=false and delivers live messages only. It returns ErrClosed,
// ErrUnavailable, ErrSubscribed or ErrSlow (wrapped), or ctx's error.
func (h *Hub) Subscribe(ctx context.Context, channel string, sub Subscriber, since *uint64) (SubscribeResult, error) {
	t, err := h.acquire(ctx, channel)
	if err != nil {
		return SubscribeResult{}, err
	}
	res, err := t.join(ctx, sub, since)
	if err != nil {
		h.release(t)
		return SubscribeResult{}, err
	}
	return res, nil
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
// non-empty idem is the message id: a retry with the same id within the
// stream's duplicate window is stored once, and answers the first
// sequence with duplicate=true.
func (h *Hub) Publish(ctx context.Context, channel string, data []byte, idem string) (seq uint64, duplicate bool, err error) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return 0, false, ErrClosed
	}
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(events.StreamChannels)}
	if idem != "" {
		opts = append(opts, jetstream.WithMsgID(idem))
	}
	ack, err := h.js.Publish(ctx, events.ChannelSubject(channel), data, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, fmt.Errorf("channel: publish on %s: %w", channel, ctx.Err())
		}
		return 0, false, fmt.Errorf("%w: publish on %s: %v", ErrUnavailable, channel, err)
	}
	return ack.Sequence, ack.Duplicate, nil
}

// Stats are the hub's counters.
type Stats struct {
	// Channels with a running consumer, Subscribers across them.
	Channels, Subscribers int
	// MsgsIn: messages received from NATS; MsgsOut: frames handed to
	// subscribers (live and replayed); Dropped: subscribers dropped
	// because Deliver returned false.
	MsgsIn, MsgsOut, Dropped uint64
	// NonJSON: messages whose payload was not JSON and was delivered as
	// a JSON string.
	NonJSON uint64
	// Fetches: replays read from JetStream (resumes older than memory).
	Fetches uint64
}

// Stats returns the current counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n := len(h.channels)
	h.mu.Unlock()
	return Stats{
		Channels:    n,
		Subscribers: int(h.subscribers.Load()),
		MsgsIn:      h.msgsIn.Load(),
		MsgsOut:     h.msgsOut.Load(),
		Dropped:     h.dropped.Load(),
		NonJSON:     h.nonJSON.Load(),
		Fetches:     h.fetches.Load(),
	}
}

// Close stops every consumer; Subscribe and Publish after Close return
// ErrClosed. Subscribers are not told: their owner closes them.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
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
		t.startErr = t.start()
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
