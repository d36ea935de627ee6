// Package pipeline delivers one outbox message to one sink through small
// stages, each usable and tested alone, as Alertmanager's notify package
// does: Dedup (skip what was already sent), Limiter (a token bucket per
// sink), Retry (backoff with jitter, honouring Retry-After; only what the
// sender calls retryable) and the sender itself.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Errors of Send.
var (
	ErrGaveUp = errors.New("pipeline: gave up")           // retries exhausted
	ErrDedup  = errors.New("pipeline: dedup unavailable") // nothing was sent
)

// Sent remembers the messages already delivered, by id.
type Sent interface {
	// Seen reports whether m was delivered.
	Seen(ctx context.Context, m sink.Message) (bool, error)
	// Mark records m as delivered.
	Mark(ctx context.Context, m sink.Message) error
}

// Result is the outcome of Send.
type Result struct {
	// Duplicate is set when the message had been sent before: nothing was sent.
	Duplicate bool
	// Attempts made (0 for a duplicate).
	Attempts int
	// Err is the last error when the message could not be delivered.
	Err error
}

// Pipeline sends to one sink.
type Pipeline struct {
	Sender  sink.Sender
	Dedup   Sent
	Limiter *Limiter
	Retry   Retry
}

// Send runs the stages. progress, if not nil, is called before every
// attempt and wait (the outbox uses it to extend its ack deadline). A
// nil error in Result.Err means delivered (or already delivered).
func (p *Pipeline) Send(ctx context.Context, m sink.Message, progress func()) Result {
	if p.Dedup != nil {
		seen, err := p.Dedup.Seen(ctx, m)
		if err != nil {
			return Result{Err: fmt.Errorf("%w: %w", ErrDedup, err)}
		}
		if seen {
			return Result{Duplicate: true}
		}
	}
	if p.Limiter != nil {
		if err := p.Limiter.Wait(ctx); err != nil {
			return Result{Err: err}
		}
	}
	attempts, err := p.Retry.Do(ctx, func(ctx context.Context) (bool, error) {
		return p.Sender.Notify(ctx, m)
	}, progress)
	if err != nil {
		return Result{Attempts: attempts, Err: err}
	}
	if p.Dedup != nil {
		// Record even when ctx ended meanwhile: the message was delivered.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.Dedup.Mark(mctx, m); err != nil {
			// Delivered; only the record failed. A redelivery may send it again.
			return Result{Attempts: attempts, Err: nil}
		}
	}
	return Result{Attempts: attempts}
}

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
