package client

import (
	"fmt"
	"math/rand/v2"
	"time"
)

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
