package pipeline

import (
	"context"
	"sync"
	"time"
)

// Limiter is a token bucket: Rate messages per second on average, Burst
// at once. A zero Rate does not limit.
type Limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

// NewLimiter returns a full bucket.
func NewLimiter(rate float64, burst int) *Limiter {
	b := float64(max(burst, 1))
	return &Limiter{rate: rate, burst: b, tokens: b, now: time.Now}
}

// Reserve takes a token and returns how long to wait before using it.
func (l *Limiter) Reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return 0
	}
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// Wait takes a token, waiting for it if the bucket is empty.
func (l *Limiter) Wait(ctx context.Context) error {
	d := l.Reserve()
	if d <= 0 {
		return nil
	}
	return sleep(ctx, d)
}
