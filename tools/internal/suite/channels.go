package suite

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Row names of the channel-scale figures (wsheal alone: the references
// keep no per-channel state worth comparing).
const (
	rowScaleP50      = "channel scale, %s: subscribe p50, %d distinct channels"
	rowScaleP99      = "channel scale, %s: subscribe p99, %d distinct channels"
	rowScaleMem      = "channel scale, %s: gateway memory per channel, %d channels"
	rowScaleDelivery = "channel scale, %s: delivery across all %d channels"
	scalePrefix      = "cs-"
)

// scale is one channel-scale case: Channels distinct channels over Nodes
// gateways, each channel with one subscriber; a connection subscribes to
// PerConn of them (a gateway process, too, holds at most 20,000 files, so
// 20,000 channels on one node cannot be 20,000 connections).
type scale struct {
	Name     string
	Nodes    int
	Channels int
	PerConn  int // channels per connection
	PerNode  int // workers per node
}

// scaleCases are the channel-scale cases of a run.
func scaleCases(quick bool) []scale {
	if quick {
		return []scale{{"1 node", 1, 300, 4, 1}, {"3 nodes", 3, 600, 4, 1}}
	}
	return []scale{{"1 node", 1, 20000, 4, 2}, {"3 nodes", 3, 50000, 4, 2}}
}

// channelScale measures every channel-scale case once.
func (r *runner) channelScale(ctx context.Context) error {
	for _, c := range scaleCases(r.opts.Quick) {
		if err := r.scaleCase(ctx, c); err != nil {
			return fmt.Errorf("channel scale, %s: %w", c.Name, err)
		}
	}
	return nil
}

// scaleCase starts c.Nodes gateways, connects c.Channels/c.PerConn
// clients without subscriptions, then subscribes each to c.PerConn
// channels of its own (64 connections subscribing at once per worker, one
// subscribe at a time each) and publishes to every channel.
func (r *runner) scaleCase(ctx context.Context, c scale) error {
	var srvs []*serverProc
	defer func() {
		for _, s := range srvs {
			s.kill()
		}
	}()
	for range c.Nodes {
		s, err := r.startKind(ctx, ProtoWsheal)
		if err != nil {
			return err
		}
		srvs = append(srvs, s)
	}
	ws, err := r.scaleDial(ctx, c, srvs)
	defer ws.stop()
	if err != nil {
		return err
	}
	time.Sleep(r.p.Settle)
	before, err := rssOf(srvs)
	if err != nil {
		return err
	}
	hist, took, err := r.scaleSubscribe(ctx, ws, c.PerConn)
	if err != nil {
		return err
	}
	time.Sleep(r.p.Settle)
	after, err := rssOf(srvs)
	if err != nil {
		return err
	}
	perChannel := float64(after-before) / 1024 / float64(c.Channels)
	rate, missing, err := r.scaleDeliver(ctx, ws, c.Channels)
	if err != nil {
		return err
	}
	r.res.figure(fmt.Sprintf(rowScaleP50, c.Name, c.Channels), "ms").add(ProtoWsheal, Quantile(hist, 0.5))
	r.res.figure(fmt.Sprintf(rowScaleP99, c.Name, c.Channels), "ms").add(ProtoWsheal, Quantile(hist, 0.99))
	r.res.figure(fmt.Sprintf(rowScaleMem, c.Name, c.Channels), "KiB").add(ProtoWsheal, perChannel)
	r.res.figure(fmt.Sprintf(rowScaleDelivery, c.Name, c.Channels), "msgs/s").add(ProtoWsheal, rate)
	r.logf("channel scale, %s: %d channels subscribed in %.1f s, p50 %.2f ms, p99 %.2f ms, %.2f KiB/channel, delivery %.0f msgs/s (undelivered after drain: %d)",
		c.Name, c.Channels, took.Seconds(), Quantile(hist, 0.5), Quantile(hist, 0.99), perChannel, rate, missing)
	if missing > 0 {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("channel scale, %s: %d messages undelivered after the drain", c.Name, missing))
		for _, s := range srvs {
			r.logf("channel scale, %s: gateway pid %d said: %s", c.Name, s.pid(), s.log)
		}
	}
	return nil
}

// scaleDial spreads c.Channels connections over the nodes and their
// workers, each worker from its own 127.0.0.x; connection i will use
// channels cs-(i*PerConn) to cs-(i*PerConn+PerConn-1). A connection that fails (a handshake timeout on a loaded
// host) is dialled again, up to three times.
func (r *runner) scaleDial(ctx context.Context, c scale, srvs []*serverProc) (workers, error) {
	n := c.Nodes * c.PerNode
	var ws workers
	for range n {
		w, err := startWorker(r.opts.Exec, r.progress)
		if err != nil {
			return ws, err
		}
		ws = append(ws, w)
	}
	srcs := r.freshSources(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	base, conns := 0, c.Channels/c.PerConn
	for i, w := range ws {
		count := conns/n + btoi(i < conns%n)
		cmd := Command{Op: "dial", N: count, URL: srvs[i%c.Nodes].ready.WS, Proto: ProtoWsheal,
			Token: r.jwt, Src: srcs[i], Conc: 32, Base: base, Retries: 3}
		base += count
		wg.Go(func() {
			rep, err := w.call(ctx, cmd, 10*time.Minute)
			if err == nil && rep.Failed > 0 {
				err = fmt.Errorf("%w: %d of %d connections failed: %s", ErrProc, rep.Failed, cmd.N, rep.Err)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ws, err
		}
	}
	return ws, nil
}

// scaleSubscribe has every worker subscribe each of its connections to
// perConn channels of its own and merges their latency histograms.
func (r *runner) scaleSubscribe(ctx context.Context, ws workers, perConn int) ([]uint64, time.Duration, error) {
	start := time.Now()
	reps := make([]Report, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			reps[i], errs[i] = w.call(ctx, Command{Op: "subeach", Prefix: scalePrefix, Conc: 64, N: perConn}, 5*time.Minute)
		})
	}
	wg.Wait()
	took := time.Since(start)
	merged := make([]uint64, histBuckets)
	for i, rep := range reps {
		if errs[i] != nil {
			return nil, took, errs[i]
		}
		if rep.Failed > 0 {
			return nil, took, fmt.Errorf("%w: %d subscribes failed", ErrProc, rep.Failed)
		}
		for b, v := range rep.Hist {
			merged[b] += v
		}
	}
	return merged, took, nil
}

// scaleDeliver publishes to every channel in turn (three messages each,
// one in quick runs) as fast as JetStream stores them (acknowledged
// asynchronous publishes, 4,096 in flight: fire-and-forget publishes into
// a stream are dropped under a burst, before the data plane sees them)
// and the clients receive them; it returns the delivered messages per
// second and those still missing after a drain.
func (r *runner) scaleDeliver(ctx context.Context, ws workers, channels int) (float64, int64, error) {
	rounds := 3
	if r.opts.Quick {
		rounds = 1
	}
	js, err := jetstream.New(r.pub, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return 0, 0, fmt.Errorf("suite: jetstream: %w", err)
	}
	total := uint64(rounds * channels)
	window := uint64(r.p.Window)
	base := ws.delivered()
	start := time.Now()
	var published uint64
	for published < total && ctx.Err() == nil {
		if published < ws.delivered()-base+window {
			subj := subject(scalePrefix + strconv.Itoa(int(published%uint64(channels))))
			if _, err := js.PublishAsync(subj, Payload(time.Now()), jetstream.WithStallWait(30*time.Second)); err != nil {
				return 0, 0, fmt.Errorf("suite: publish: %w", err)
			}
			published++
			continue
		}
		select {
		case <-r.progress:
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return 0, 0, fmt.Errorf("suite: %d publishes unacknowledged after a minute", js.PublishAsyncPending())
	}
	drain(ws, base+total)
	got := ws.delivered() - base
	return float64(got) / time.Since(start).Seconds(), int64(total) - int64(got), nil
}

// rssOf sums the RSS of the servers.
func rssOf(srvs []*serverProc) (int64, error) {
	var sum int64
	for _, s := range srvs {
		v, err := RSS(s.pid())
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
