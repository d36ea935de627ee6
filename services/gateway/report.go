package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/fleet"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// boot is drawn once per process. A node's Boot (events.Heartbeat.Boot)
// is it with the node's start, so that a node restarted inside the same
// process (wsheal dev, tests) is a new one too, while an old process that
// thawed still sends its old Boot.
var boot = rand.Text()

// bootID is the node's Boot.
func (s *Service) bootID() string { return fmt.Sprintf("%s.%d", boot, s.started.UnixNano()) }

// heartbeatLoop publishes the heartbeat and the fleet registration every
// heartbeat interval.
func (s *Service) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		s.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) beat(ctx context.Context) {
	now := time.Now().UTC()
	hb := &events.Heartbeat{
		Node: s.cfg.Node, URL: s.URL(), InternalURL: s.InternalURL(), Seq: s.hbSeq.Add(1),
		Connections: s.pool.Len(), Capacity: s.pool.Capacity(), Draining: s.pool.Draining(),
		StartedAt: s.started, UptimeMS: now.Sub(s.started).Milliseconds(),
		IntervalMS: s.cfg.HeartbeatInterval.Milliseconds(), PID: os.Getpid(), Version: events.Version,
		Boot: s.bootID(),
	}
	if _, err := s.emitter.Emit(ctx, events.HeartbeatSubject(s.cfg.Node), hb); err != nil && ctx.Err() == nil {
		s.log.Debug().Err(err).Msg("heartbeat not sent")
	}
	reg := fleet.Registration{
		Node: s.cfg.Node, URL: hb.URL, InternalURL: hb.InternalURL, Connections: hb.Connections, Capacity: hb.Capacity,
		Draining: hb.Draining, Version: events.Version, StartedAt: s.started, UpdatedAt: now,
		HeartbeatMS: hb.IntervalMS,
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.HeartbeatInterval)
	defer cancel()
	if err := s.registry.Put(pctx, reg); err != nil && ctx.Err() == nil {
		s.log.Debug().Err(err).Msg("registration not written")
	}
}

// healthLoop publishes a health snapshot every health interval; counters
// are the deltas of the interval.
func (s *Service) healthLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.HealthInterval)
	defer t.Stop()
	prev, prevAt, prevHub := s.pool.Totals(), time.Now(), s.hub.Stats()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur, curHub := s.pool.Totals(), s.hub.Stats()
			h := s.health(prev, cur, now.Sub(prevAt))
			h.DataPlane = s.dataPlane(ctx, prevHub, curHub)
			prev, prevAt, prevHub = cur, now, curHub
			if _, err := s.emitter.Emit(ctx, events.HealthSubject(s.cfg.Node), h); err != nil && ctx.Err() == nil {
				s.log.Warn().Err(err).Msg("health not sent")
			}
		}
	}
}

func (s *Service) health(prev, cur pool.Totals, iv time.Duration) *events.Health {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	d := func(a, b uint64) int { return int(b - a) }
	h := &events.Health{
		Node: s.cfg.Node, IntervalMS: s.cfg.HealthInterval.Milliseconds(),
		Connections: cur.Open, Capacity: s.pool.Capacity(), Draining: s.pool.Draining(),
		Opened: d(prev.Opened, cur.Opened), Closed: map[string]int{},
		Rejected: d(prev.Rejected, cur.Rejected), AcceptLimit: s.pool.AcceptLimit(),
		RTT: s.pool.TakeRTT(), Stale: d(prev.Stale, cur.Stale), Evicted: d(prev.Evicted, cur.Evicted),
		SendBacklog: cur.Backlog, SlowConsumers: d(prev.Slow, cur.Slow),
		MsgsIn: d(prev.MsgsIn, cur.MsgsIn), MsgsOut: d(prev.MsgsOut, cur.MsgsOut),
		Errors:    d(prev.Errors, cur.Errors) + s.metrics.takeErrors(),
		Channels:  s.hub.Stats().Channels,
		HeapBytes: ms.HeapAlloc, Goroutines: runtime.NumGoroutine(),
	}
	if iv > 0 {
		h.AcceptRate = float64(h.Opened) / iv.Seconds()
	}
	for cause, n := range cur.Closed {
		h.Closed[cause] = d(prev.Closed[cause], n)
	}
	h.Ends = s.metrics.takeEnds()
	return h
}

// dataPlane is the channel-traffic part of a health snapshot: the hub's
// counters over the interval (prev to cur), its gauges, and the channel
// stream and JetStream account as read now (one stream info, one account
// info; a read that fails leaves its fields 0).
func (s *Service) dataPlane(ctx context.Context, prev, cur channel.Stats) events.DataPlane {
	d := func(a, b uint64) int { return int(b - a) }
	dp := events.DataPlane{
		Subscribes: d(prev.Subscribes, cur.Subscribes), SubscribeErrors: d(prev.SubscribeErrors, cur.SubscribeErrors),
		Publishes: d(prev.Publishes, cur.Publishes), PublishErrors: d(prev.PublishErrors, cur.PublishErrors),
		Resumes: d(prev.Resumes, cur.Resumes), NotRecovered: d(prev.NotRecovered, cur.NotRecovered),
		Replayed: d(prev.Replayed, cur.Replayed), Channels: cur.Channels,
	}
	ctx, cancel := context.WithTimeout(ctx, min(s.cfg.HealthInterval/2, healthReadTimeout))
	defer cancel()
	if st, err := s.hub.StreamStats(ctx); err == nil {
		dp.StreamBytes, dp.StreamMaxBytes, dp.Consumers = st.Bytes, st.MaxBytes, st.Consumers
		s.stream.Store(&st)
	}
	if acct, err := s.js.AccountInfo(ctx); err == nil {
		dp.StoreUsed = acct.Store
		dp.StoreLimit = max(acct.Limits.MaxStore, 0)        // -1: none known
		dp.ConsumerLimit = max(acct.Limits.MaxConsumers, 0) // -1: none known
	}
	return dp
}

// healthReadTimeout bounds the stream and account reads of one snapshot
// when the health interval is long.
const healthReadTimeout = 2 * time.Second

// lifecycle announces a start, drain progress, undrain or stop.
func (s *Service) lifecycle(ctx context.Context, phase, reason string, remaining, moved int) {
	ev := &events.Lifecycle{Node: s.cfg.Node, Phase: phase, Reason: reason,
		Remaining: remaining, Moved: moved, URL: s.URL()}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := s.emitter.Emit(ectx, events.LifecycleSubject(s.cfg.Node), ev); err != nil {
		s.log.Warn().Err(err).Str("phase", phase).Msg("lifecycle not sent")
	}
}

// notables publishes notable connection events, rate-limited by a token
// bucket so that a storm cannot flood NATS: events over the rate are
// counted and the next one sent carries the count in Suppressed.
type notables struct {
	node    string
	emitter *events.Emitter
	log     zerolog.Logger
	limiter *rate.Limiter
	queue   chan events.ConnEvent

	mu         sync.Mutex
	suppressed int
}

func newNotables(cfg Config, em *events.Emitter, log zerolog.Logger) *notables {
	return &notables{node: cfg.Node, emitter: em, log: log.With().Str("component", "notables").Logger(),
		limiter: rate.NewLimiter(rate.Limit(cfg.ConnEventRate), cfg.ConnEventBurst),
		queue:   make(chan events.ConnEvent, cfg.ConnEventBurst)}
}

// conn is the pool's notifier; it never blocks.
func (n *notables) conn(kind string, c *pool.Conn, detail string) {
	n.emit(events.ConnEvent{Node: n.node, Kind: kind, ConnID: c.ID(), Remote: c.Remote(), Detail: detail})
}

func (n *notables) emit(ev events.ConnEvent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.limiter.Allow() {
		n.suppressed++
		return
	}
	ev.Suppressed = n.suppressed
	select {
	case n.queue <- ev:
		n.suppressed = 0
	default:
		n.suppressed++
	}
}

func (n *notables) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-n.queue:
			if _, err := n.emitter.Emit(ctx, events.ConnSubject(n.node), &ev); err != nil && ctx.Err() == nil {
				n.log.Debug().Err(err).Str("kind", ev.Kind).Msg("conn event not sent")
			}
		}
	}
}
