package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// ErrWatch wraps a KVWatch that cannot run.
var ErrWatch = errors.New("service: kv watch")

// KVWatch follows keys of a KV bucket: what WatchKV hands to its
// functions and how it watches again.
type KVWatch struct {
	// Keys are the key patterns to follow (the bucket's key syntax:
	// "quarantine.*", "open.>"); every key when empty.
	Keys []string
	// Apply receives each entry: first the current value of every key
	// (delete and purge markers included: Operation tells them from a
	// put), then every change, in order. It is called from one goroutine
	// and must not block for long: the watch waits for it.
	Apply func(jetstream.KeyValueEntry)
	// Synced, when set, is called once every watch (the first and each
	// one after a re-watch) has handed every current value to Apply, so
	// that a reader can tell "not known yet" from "not there".
	Synced func()
	// Retry is the pause before watching again after the watch failed or
	// ended (the bucket went away, the connection closed); 1 s when zero.
	Retry time.Duration
}

// WatchKV runs w over kv until ctx ends, then returns nil. A watch that
// cannot start or that ends while ctx lives is started again after
// w.Retry, replaying the current values (Apply sees them again, so it
// must be idempotent, as applying a newer value of a key is). The
// watcher's own consumer survives NATS reconnects; WatchKV covers the
// rest: a server restart that lost it, a closed update channel.
func WatchKV(ctx context.Context, kv jetstream.KeyValue, w KVWatch, log zerolog.Logger) error {
	if kv == nil || w.Apply == nil {
		return fmt.Errorf("%w: a bucket and an Apply function are required", ErrWatch)
	}
	retry := w.retry()
	log = log.With().Str("bucket", kv.Bucket()).Logger()
	for {
		err := w.once(ctx, kv)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn().Err(err).Dur("retry", retry).Msg("kv watch interrupted")
		if !pause(ctx, retry) {
			return nil
		}
	}
}

// WatchBucket is WatchKV over the bucket named bucket, bound first:
// binding is tried again after w.Retry until it succeeds or ctx ends, so
// a bucket that is not there yet (created by a setup step that has not
// run) is watched once it is.
func WatchBucket(ctx context.Context, js jetstream.JetStream, bucket string, w KVWatch, log zerolog.Logger) error {
	if js == nil || w.Apply == nil {
		return fmt.Errorf("%w: JetStream and an Apply function are required", ErrWatch)
	}
	for {
		kv, err := js.KeyValue(ctx, bucket)
		if err == nil {
			return WatchKV(ctx, kv, w, log)
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn().Err(err).Str("bucket", bucket).Msg("kv bucket not bound yet")
		if !pause(ctx, w.retry()) {
			return nil
		}
	}
}

// retry is w.Retry or its default.
func (w KVWatch) retry() time.Duration {
	if w.Retry <= 0 {
		return time.Second
	}
	return w.Retry
}

// pause waits d; false if ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// errWatchEnded: the watcher closed its update channel while ctx lived.
var errWatchEnded = errors.New("watch ended")

// once runs one watcher until it ends or ctx does.
func (w KVWatch) once(ctx context.Context, kv jetstream.KeyValue) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		kw  jetstream.KeyWatcher
		err error
	)
	if len(w.Keys) == 0 {
		kw, err = kv.WatchAll(wctx)
	} else {
		// A copy: WatchFiltered rewrites the slice it is given.
		kw, err = kv.WatchFiltered(wctx, slices.Clone(w.Keys))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWatch, err)
	}
	defer func() { _ = kw.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-kw.Updates():
			switch {
			case !ok:
				return errWatchEnded
			case e == nil:
				// The end of the current values.
				if w.Synced != nil {
					w.Synced()
				}
			default:
				w.Apply(e)
			}
		}
	}
}
