package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"
)

// Client is one logical connection to the gateway fleet. It holds at most
// one WebSocket at a time and replaces it when it is lost. Its methods are
// safe for concurrent use.
type Client struct {
	cfg    Config
	log    zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the connection goroutine ends
	first  chan struct{} // closed at the first hello
	once   sync.Once
	ids    atomic.Uint64

	// Owned by the connection goroutine.
	rnd   *rand.Rand
	sleep func(ctx context.Context, d time.Duration) error
	urls  []string
	next  int
	http  *http.Client

	deliveries chan delivery

	mu      sync.Mutex
	raw     *gws.Conn // the socket from upgrade to close
	live    *session  // the session after its hello
	subs    map[string]*Subscription
	pending map[uint64]*request
	closed  bool
	err     error // why the client ended
	lastErr error // the last connect or disconnect cause
}

// Dial starts a client and waits until it is connected (the gateway's
// hello received) or ctx ends; connect failures before that are retried
// with the backoff, except terminal ones (bad token), which Dial returns.
// After Dial returns the client reconnects by itself until Close; ctx
// only bounds the first connect.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	return dial(ctx, cfg, nil)
}

// dial lets tests tune the client (random source, sleep) before it runs.
func dial(ctx context.Context, cfg Config, tune func(*Client)) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := newClient(cfg)
	if tune != nil {
		tune(c)
	}
	go c.run()
	go c.dispatch()
	select {
	case <-c.first:
		return c, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		err := fmt.Errorf("client: dial: %w (last error: %v)", ctx.Err(), c.lastError())
		_ = c.Close()
		return nil, err
	}
}

func newClient(cfg Config) *Client {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:        cfg,
		log:        cfg.Logger.With().Str("component", "client").Logger(),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		first:      make(chan struct{}),
		rnd:        rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		sleep:      sleepCtx,
		deliveries: make(chan delivery, cfg.DeliveryBuffer),
		subs:       make(map[string]*Subscription),
		pending:    make(map[uint64]*request),
	}
	c.urls = append([]string(nil), cfg.URLs...)
	c.rnd.Shuffle(len(c.urls), func(i, j int) { c.urls[i], c.urls[j] = c.urls[j], c.urls[i] })
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the client: the connection is closed with 1000, pending
// Publish and Subscribe calls return ErrClosed, handlers are no longer
// called once Close returns. Close is idempotent and returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.err == nil {
			c.err = ErrClosed
		}
	}
	raw := c.raw
	c.mu.Unlock()
	c.cancel()
	if raw != nil {
		_ = raw.WriteClose(1000, []byte("client closed"))
	}
	<-c.done
	return nil
}

// Done is closed when the client has stopped: after Close or a terminal
// error from the server.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is nil while the client runs; afterwards ErrClosed after Close, or
// the terminal error that stopped it (errors.Is(err, ErrUnauthorized) for
// a bad token).
func (c *Client) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Connected reports whether a connection is up (its hello received).
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live != nil
}

func (c *Client) lastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// stop records a terminal error; the connection goroutine then ends.
func (c *Client) stop(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.closed = true
	c.mu.Unlock()
	c.log.Error().Err(err).Msg("client stopped: server refused to continue")
	c.cancel()
}

// finish runs when the connection goroutine ends.
func (c *Client) finish() {
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrClosed
	}
	err := c.err
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	c.emit(State{Kind: Closed, Err: err})
	close(c.done)
}
