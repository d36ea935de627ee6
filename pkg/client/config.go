package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Config.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultStaleGrace  = 5 * time.Second
	// DefaultPingInterval is assumed when the hello frame names none.
	DefaultPingInterval = 25 * time.Second
	// DefaultDeliveryBuffer is the number of messages queued between the
	// connection's reader and the handlers.
	DefaultDeliveryBuffer = 64
	// MaxHintDelay bounds the delay a reconnect frame may ask for.
	MaxHintDelay = 2 * time.Minute
)

// Config configures a Client. URLs and/or Discovery are required; the rest
// has defaults.
type Config struct {
	// URLs are gateway WebSocket endpoints (ws://host:port/ws). The client
	// shuffles them and fails over from one to the next.
	URLs []string
	// Discovery is a gateway's discovery endpoint
	// (http://host:port/v1/connect) answering {"url": "ws://..."}. When
	// set it is asked first on every connect; URLs are the fallback.
	Discovery string
	// Token is sent as the token query parameter of the upgrade and as a
	// bearer token to Discovery.
	Token string
	// TokenFunc, if set, is called before every connect for a fresh token
	// (instead of Token). With it, a token_expired close (4102) is not
	// terminal: the client reconnects with the next token.
	TokenFunc func(ctx context.Context) (string, error)

	// Dialer dials TCP; set its LocalAddr to pick a source address.
	// Default: a net.Dialer with DialTimeout.
	Dialer *net.Dialer
	// TLS configures wss:// URLs.
	TLS *tls.Config
	// DialTimeout bounds a connect: TCP, TLS, upgrade and the hello frame.
	DialTimeout time.Duration

	// Backoff paces reconnects.
	Backoff Backoff
	// StaleGrace is added to the server's ping interval: no ping and no
	// traffic for interval+grace and the connection is dead.
	StaleGrace time.Duration
	// DeliveryBuffer is the queue length between reader and handlers.
	DeliveryBuffer int

	// OnState, if set, is called on every state change, in order, from
	// the client's connection goroutine: it must not block, and must not
	// call Close (Close waits for that goroutine).
	OnState func(State)
	// OnGap, if set, is called for a resumed subscription whose gap the
	// server could not replay in full (recovered:false), unless the
	// subscription has its own WithGap callback.
	OnGap func(Gap)
	// Logger receives the client's logs (component=client). Zero: none.
	Logger zerolog.Logger
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.DialTimeout <= 0 {
		out.DialTimeout = DefaultDialTimeout
	}
	if out.StaleGrace <= 0 {
		out.StaleGrace = DefaultStaleGrace
	}
	if out.DeliveryBuffer <= 0 {
		out.DeliveryBuffer = DefaultDeliveryBuffer
	}
	if out.Dialer == nil {
		out.Dialer = &net.Dialer{}
	}
	out.Backoff = out.Backoff.withDefaults()
	return out
}

// Validate checks the URLs and durations.
func (c *Config) Validate() error {
	if len(c.URLs) == 0 && c.Discovery == "" {
		return fmt.Errorf("%w: URLs or Discovery is required", ErrConfig)
	}
	for _, u := range c.URLs {
		if err := checkURL(u, "ws", "wss"); err != nil {
			return err
		}
	}
	if c.Discovery != "" {
		if err := checkURL(c.Discovery, "http", "https"); err != nil {
			return err
		}
	}
	if c.DialTimeout < 0 || c.StaleGrace < 0 {
		return fmt.Errorf("%w: negative duration", ErrConfig)
	}
	return c.Backoff.validate()
}

func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%w: url %q: %v", ErrConfig, s, err)
	}
	for _, sc := range schemes {
		if u.Scheme == sc && u.Host != "" {
			return nil
		}
	}
	return fmt.Errorf("%w: url %q: want %v://host", ErrConfig, s, schemes)
}

// Backoff defaults: 200 ms doubling to 20 s, reset after 30 s connected.
const (
	DefaultBackoffBase   = 200 * time.Millisecond
	DefaultBackoffMax    = 20 * time.Second
	DefaultBackoffStable = 30 * time.Second
)

// Backoff is exponential backoff with full jitter: before reconnect
// attempt n (1-based) the client sleeps a uniformly random duration in
// [0, min(Max, Base*2^(n-1))). The attempt count starts again at 1 once a
// connection has stayed up for Stable.
type Backoff struct {
	Base   time.Duration
	Max    time.Duration
	Stable time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Stable <= 0 {
		b.Stable = DefaultBackoffStable
	}
	return b
}

func (b Backoff) validate() error {
	if b.Base < 0 || b.Max < 0 || b.Stable < 0 {
		return fmt.Errorf("%w: negative backoff duration", ErrConfig)
	}
	if b.Base > 0 && b.Max > 0 && b.Base > b.Max {
		return fmt.Errorf("%w: backoff base %v above max %v", ErrConfig, b.Base, b.Max)
	}
	return nil
}

// Cap is the upper bound of the delay before attempt n (1-based):
// min(Max, Base*2^(n-1)).
func (b Backoff) Cap(attempt int) time.Duration {
	b = b.withDefaults()
	if attempt < 1 {
		attempt = 1
	}
	d := b.Base
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= b.Max || d <= 0 {
			return b.Max
		}
	}
	return min(d, b.Max)
}

// Delay draws the full-jitter delay before attempt n from r.
func (b Backoff) Delay(attempt int, r *rand.Rand) time.Duration {
	c := b.Cap(attempt)
	if c <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(c)))
}
