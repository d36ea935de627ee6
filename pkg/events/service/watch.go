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
	retry := w.Retry
	if retry <= 0 {
		retry = time.Second
	}
	log = log.With().Str("bucket", kv.Bucket()).Logger()
	for {
		err := w.once(ctx, kv)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn().Err(err).Dur("retry", retry).Msg("kv watch interrupted")
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
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
