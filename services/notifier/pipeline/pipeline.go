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

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Errors of Send.
var (
	ErrGaveUp = errors.New("pipeline: gave up")           // retries exhausted
	ErrDedup  = errors.New("pipeline: dedup unavailable") // nothing was sent
)

// Sent remembers the ids of messages already delivered.
type Sent interface {
	// Seen reports whether id was delivered.
	Seen(ctx context.Context, id string) (bool, error)
	// Mark records id as delivered.
	Mark(ctx context.Context, id string) error
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
		seen, err := p.Dedup.Seen(ctx, m.ID)
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
		if err := p.Dedup.Mark(ctx, m.ID); err != nil {
			// Delivered; only the record failed. A redelivery may send it again.
			return Result{Attempts: attempts, Err: nil}
		}
	}
	return Result{Attempts: attempts}
}
