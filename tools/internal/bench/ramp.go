package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// dialTimeout bounds one client's connect and subscribe (the client
// retries within it, for example while the gateway's admission refuses).
const dialTimeout = 30 * time.Second

// ramp opens the subscribers at DialRate, each subscribed before the
// publishers start. A terminal refusal (bad token) aborts the run.
func (r *run) ramp(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.DialRate))
	defer tick.Stop()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for i := 0; i < r.cfg.Clients && ctx.Err() == nil; i++ {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := r.openSubscriber(ctx, i); errors.Is(err, client.ErrStopped) {
				cancel(err)
			}
		}(i)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && errors.Is(err, client.ErrStopped) {
		return fmt.Errorf("bench: gateway refused the clients: %w", err)
	}
	return nil
}

func (r *run) openSubscriber(ctx context.Context, i int) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := client.Dial(ctx, r.clientConfig(i))
	if err != nil {
		r.noteErr(err, true)
		return err
	}
	s := &subscriber{ch: i % r.cfg.Channels, c: c}
	if _, err := c.Subscribe(ctx, r.channel(s.ch), func(m client.Message) { s.handle(&r.t, m) }); err != nil {
		r.noteErr(err, true)
		_ = c.Close()
		return err
	}
	r.mu.Lock()
	r.conns = append(r.conns, c)
	r.subs = append(r.subs, s)
	r.perCh[s.ch]++
	r.mu.Unlock()
	return nil
}

// dialPublishers opens the publisher connections.
func (r *run) dialPublishers(ctx context.Context) ([]*client.Client, error) {
	pubs := make([]*client.Client, 0, r.cfg.Publishers)
	for j := 0; j < r.cfg.Publishers; j++ {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		c, err := client.Dial(dctx, r.clientConfig(r.cfg.Clients+j))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench: publisher %d: %w", j, err)
		}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
		pubs = append(pubs, c)
	}
	return pubs, nil
}

// progress prints a line a second until the returned func is called.
func (r *run) progress(w io.Writer, start time.Time) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastSent, lastDel uint64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			sent, del := r.t.sent.Load(), r.t.unique.Load()
			behind := int64(r.t.expected.Load()) - int64(del)
			r.mu.Lock()
			failed := r.failed
			r.mu.Unlock()
			fmt.Fprintf(w, "%5.0fs  conns %d/%d (failed %d)  sent %d (%d/s)  delivered %d (%d/s)  behind %d  dup %d  ooo %d  p99 %.1fms  reconnects %d\n",
				time.Since(start).Seconds(), r.t.live.Load(), r.cfg.Clients+r.cfg.Publishers, failed,
				sent, sent-lastSent, del, del-lastDel, max(behind, 0), r.t.dups.Load(), r.t.outOfOrder.Load(),
				ms(r.t.latency.Quantile(0.99)), r.t.reconnects.Load())
			lastSent, lastDel = sent, del
		}
	}()
	return func() { close(done); wg.Wait() }
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
