package pool

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// shard is a slice of the pool's connections scanned by one ticker.
type shard struct {
	pool  *Pool
	mu    sync.Mutex
	conns []*Conn
}

func (s *shard) add(c *Conn, now int64) {
	c.shard = s
	iv := s.pool.pingInterval.Load()
	s.mu.Lock()
	c.nextPing = now + rand.Int64N(max(iv, 1)) // stagger the first ping
	c.idx = len(s.conns)
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *shard) remove(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := c.idx
	if i < 0 || i >= len(s.conns) || s.conns[i] != c {
		return
	}
	last := len(s.conns) - 1
	s.conns[i] = s.conns[last]
	s.conns[i].idx = i
	s.conns[last] = nil
	s.conns = s.conns[:last]
	c.idx = -1
	if cap(s.conns) > 64 && len(s.conns) < cap(s.conns)/4 {
		s.conns = append([]*Conn(nil), s.conns...)
	}
}

func (s *shard) collect(out []*Conn, keep func(*Conn) bool) []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if !c.Closing() && (keep == nil || keep(c)) {
			out = append(out, c)
		}
	}
	return out
}

// tick returns the scan period: a tenth of the shorter of ping interval and
// pong deadline, within 10 ms..500 ms.
func (p *Pool) tick() time.Duration {
	d := time.Duration(min(p.pingInterval.Load(), p.pongDeadline.Load())) / 10
	return min(max(d, 10*time.Millisecond), 500*time.Millisecond)
}

// Run scans the shards until ctx ends: pings due, pong deadlines, idle
// connections and expired tokens; with a memory budget it also reads the
// runtime's memory and sheds load past it.
func (p *Pool) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.runBudget(ctx) }()
	for i, sh := range p.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh.run(ctx, time.Duration(i)*p.tick()/time.Duration(len(p.shards)))
		}()
	}
	wg.Wait()
}

func (s *shard) run(ctx context.Context, offset time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(offset):
	}
	period := s.pool.tick()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.scan(now.UnixNano())
			if d := s.pool.tick(); d != period {
				period = d
				t.Reset(period)
			}
		}
	}
}

// scan checks every connection of the shard. It only queues work (pings,
// closes), so it never blocks on a socket.
func (s *shard) scan(now int64) {
	p := s.pool
	iv, dl, idle := p.pingInterval.Load(), p.pongDeadline.Load(), p.idleTimeout.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c.Closing() {
			continue
		}
		sent := c.pingSent.Load()
		switch {
		case sent != 0 && now-sent > dl && !c.busy.Load():
			if c.Close(frame.CloseStale, events.CauseStale, "no pong within the deadline") {
				p.stats.stale.Add(1)
				p.notable(events.ConnStale, c, "no pong within the deadline")
			}
		case c.expires != 0 && now > c.expires:
			c.Close(frame.CloseTokenExpired, events.CauseError, "token expired")
		case idle > 0 && c.subs.Load() == 0 && now-c.lastActive.Load() > idle:
			if c.CloseAfter(frame.CloseIdle, events.CauseIdle, "idle") {
				p.stats.evicted.Add(1)
			}
		case sent == 0 && now >= c.nextPing:
			c.ping(now)
			c.nextPing = now + jitter(iv)
		}
	}
}

// jitter spreads an interval by ±10%.
func jitter(iv int64) int64 {
	spread := iv / 5
	if spread <= 0 {
		return iv
	}
	return iv - spread/2 + rand.Int64N(spread)
}

// IsStale reports whether a connection's ping has waited longer than half
// the pong deadline: the selector "stale" of status and reconnect.
func (p *Pool) IsStale(c *Conn, now time.Time) bool {
	sent := c.pingSent.Load()
	return sent != 0 && now.UnixNano()-sent > p.pongDeadline.Load()/2
}

// IsIdle reports whether a connection has no subscription and no inbound
// traffic for half the idle timeout (or the ping interval when idle
// eviction is off): the selector "idle".
func (p *Pool) IsIdle(c *Conn, now time.Time) bool {
	limit := p.idleTimeout.Load() / 2
	if limit <= 0 {
		limit = p.pingInterval.Load()
	}
	return c.subs.Load() == 0 && now.UnixNano()-c.lastActive.Load() > limit
}
