package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Retry retries a retryable failure with exponential backoff and jitter;
// a Retry-After from the receiver is honoured (it replaces the backoff
// when longer). A failure the sender calls permanent is not retried.
type Retry struct {
	Attempts int           // at most this many attempts (default 5)
	Initial  time.Duration // first backoff (default 500 ms)
	Max      time.Duration // backoff cap (default 30 s)
	// Sleep waits d or until ctx ends; tests may watch it. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Initial <= 0 {
		r.Initial = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	if r.Sleep == nil {
		r.Sleep = sleep
	}
	return r
}

// Do calls f until it succeeds, fails for good, or attempts run out. It
// returns the number of attempts and the last error, wrapped in ErrGaveUp
// when it was retryable.
func (r Retry) Do(ctx context.Context, f func(context.Context) (bool, error), progress func()) (int, error) {
	r = r.withDefaults()
	var err error
	for n := 1; ; n++ {
		if progress != nil {
			progress()
		}
		var retryable bool
		retryable, err = f(ctx)
		if err == nil {
			return n, nil
		}
		if !retryable {
			return n, err
		}
		if n >= r.Attempts {
			return n, fmt.Errorf("%w after %d attempts: %w", ErrGaveUp, n, err)
		}
		if serr := r.wait(ctx, r.Delay(n, err), progress); serr != nil {
			return n, errors.Join(serr, err)
		}
	}
}

// progressEvery is how often a long wait reports progress.
const progressEvery = 5 * time.Second

// wait sleeps d in slices, reporting progress before each.
func (r Retry) wait(ctx context.Context, d time.Duration, progress func()) error {
	for d > 0 {
		if progress != nil {
			progress()
		}
		step := min(d, progressEvery)
		if err := r.Sleep(ctx, step); err != nil {
			return err
		}
		d -= step
	}
	return nil
}

// Delay is the wait after attempt n (1-based) failed with err: half the
// exponential step plus a random half of it (jitter), or the receiver's
// Retry-After when that is longer.
func (r Retry) Delay(n int, err error) time.Duration {
	r = r.withDefaults()
	step := r.Initial
	for i := 1; i < n && step < r.Max; i++ {
		step *= 2
	}
	step = min(step, r.Max)
	d := step/2 + rand.N(step/2+1)
	var ra *sink.RetryAfterError
	if errors.As(err, &ra) && ra.After > d {
		d = ra.After
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
