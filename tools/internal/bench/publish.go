package bench

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// publishTimeout bounds one publish, retries across reconnects included.
const publishTimeout = 30 * time.Second

// publish runs until ctx ends. Channel k is published to by connection
// k % Publishers at Rate/Channels, one acknowledged publish at a time, so
// each channel's sequence is ordered while the channels run in parallel.
func (r *run) publish(ctx context.Context, pubs []*client.Client) {
	interval := time.Duration(float64(time.Second) * float64(r.cfg.Channels) / r.cfg.Rate)
	var wg sync.WaitGroup
	for k := range r.cfg.Channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.publisher(ctx, pubs[k%len(pubs)], k, interval)
		}()
	}
	wg.Wait()
}

func (r *run) publisher(ctx context.Context, c *client.Client, ch int, interval time.Duration) {
	// Stagger the channels over one interval.
	next := time.Now().Add(time.Duration(rand.Int64N(int64(interval) + 1)))
	for n := uint64(1); ; n++ {
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		} else if wait < -time.Second {
			next = time.Now() // fell behind (a reconnect): no burst to catch up
		}
		next = next.Add(interval)
		r.publishOne(c, ch, n)
	}
}

// publishOne sends one message and books it once acknowledged. It is not
// bound to the run's context: a publish under way at the end completes.
func (r *run) publishOne(c *client.Client, ch int, n uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	data := encodePayload(time.Now().UnixNano(), n, r.cfg.Size)
	if _, err := c.Publish(ctx, r.channel(ch), data); err != nil {
		r.t.pubErrors.Add(1)
		r.noteErr(err, false)
		return
	}
	r.ackMu[ch].Lock()
	r.acked[ch].set(n)
	r.ackMu[ch].Unlock()
	r.t.sent.Add(1)
	r.mu.Lock()
	subs := r.perCh[ch]
	r.mu.Unlock()
	r.t.expected.Add(subs)
}

// missing counts the acknowledged publishes not yet delivered to each of
// their channel's subscribers, and the deliveries of unacknowledged ones.
func (r *run) missing() (lost, unacked uint64) {
	r.mu.Lock()
	subs := r.subs
	r.mu.Unlock()
	for _, s := range subs {
		r.ackMu[s.ch].Lock()
		acked := r.acked[s.ch]
		want := acked.count()
		got, extra := s.received(acked)
		r.ackMu[s.ch].Unlock()
		lost += want - got
		unacked += extra
	}
	return lost, unacked
}

// drain waits for the deliveries under way, until nothing is missing or
// Drain has passed.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if lost, _ := r.missing(); lost == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
