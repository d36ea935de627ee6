package edge

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"sync"
	"time"
)

// Errors of Limits; each is answered with 429 and Retry-After.
var (
	ErrPeerConns = errors.New("edge: too many connections from this address")
	ErrPeerRate  = errors.New("edge: connection rate from this address exceeded")
	ErrPeerAuth  = errors.New("edge: too many failed authentications from this address")
	ErrPeers     = errors.New("edge: too many client addresses")
)

// SweepEvery is how often Run forgets peers with nothing open and full
// buckets.
const SweepEvery = 30 * time.Second

// LimitConfig are the limits per peer address. A zero limit is off.
type LimitConfig struct {
	MaxConns     int     // open connections per address
	AcceptRate   float64 // new connections per second per address
	AcceptBurst  int
	AuthFailures int // failed authentications per minute per address (also the burst)
	MaxPeers     int // addresses tracked at once (default 100 000)
}

// Limits tracks each peer address's connections and buckets. Safe for
// concurrent use.
type Limits struct {
	cfg   LimitConfig
	mu    sync.Mutex
	peers map[netip.Addr]*peerState
}

type peerState struct {
	open   int
	accept bucket
	fails  bucket
}

// bucket is a token bucket that starts full.
type bucket struct {
	tokens float64
	at     time.Time
}

// take spends one token; false, with the wait for the next, if none is left.
func (b *bucket) take(now time.Time, rate float64, burst int) (bool, time.Duration) {
	b.refill(now, rate, burst)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// wait is how long until one token is available (0 if one is).
func (b *bucket) wait(now time.Time, rate float64, burst int) time.Duration {
	b.refill(now, rate, burst)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

func (b *bucket) refill(now time.Time, rate float64, burst int) {
	if b.at.IsZero() {
		b.tokens, b.at = float64(burst), now
		return
	}
	b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
}

func (b *bucket) full(now time.Time, rate float64, burst int) bool {
	b.refill(now, rate, burst)
	return b.tokens >= float64(burst)
}

// NewLimits returns the limits of cfg.
func NewLimits(cfg LimitConfig) *Limits {
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 100_000
	}
	return &Limits{cfg: cfg, peers: map[netip.Addr]*peerState{}}
}

// state returns a's entry, creating it; nil when the table is full.
// Caller holds mu.
func (l *Limits) state(a netip.Addr) *peerState {
	if s, ok := l.peers[a]; ok {
		return s
	}
	if len(l.peers) >= l.cfg.MaxPeers {
		return nil
	}
	s := &peerState{}
	l.peers[a] = s
	return s
}

func (l *Limits) failRate() float64 { return float64(l.cfg.AuthFailures) / 60 }

// Blocked reports whether a has spent its failed authentications; if so
// it is refused before its token is read, for retry.
func (l *Limits) Blocked(a netip.Addr, now time.Time) (retry time.Duration, err error) {
	if l.cfg.AuthFailures <= 0 {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.peers[a]
	if !ok {
		return 0, nil
	}
	if w := s.fails.wait(now, l.failRate(), l.cfg.AuthFailures); w > 0 {
		return w, ErrPeerAuth
	}
	return 0, nil
}

// Failed records a failed authentication of a.
func (l *Limits) Failed(a netip.Addr, now time.Time) {
	if l.cfg.AuthFailures <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.state(a); s != nil {
		s.fails.take(now, l.failRate(), l.cfg.AuthFailures)
	}
}

// Acquire reserves a connection of a: under its connection cap and its
// accept rate. On success release gives the connection back (call it
// once, when the connection ends or was not made).
func (l *Limits) Acquire(a netip.Addr, now time.Time) (release func(), retry time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.state(a)
	switch {
	case s == nil:
		return nil, time.Second, ErrPeers
	case l.cfg.MaxConns > 0 && s.open >= l.cfg.MaxConns:
		return nil, time.Second, ErrPeerConns
	}
	if l.cfg.AcceptRate > 0 {
		if ok, wait := s.accept.take(now, l.cfg.AcceptRate, max(l.cfg.AcceptBurst, 1)); !ok {
			return nil, wait, ErrPeerRate
		}
	}
	s.open++
	var once sync.Once
	return func() { once.Do(func() { l.release(a) }) }, 0, nil
}

func (l *Limits) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.peers[a]; ok && s.open > 0 {
		s.open--
	}
}

// Len is the number of addresses tracked.
func (l *Limits) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers)
}

// Sweep forgets the addresses with nothing open and full buckets.
func (l *Limits) Sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for a, s := range l.peers {
		if s.open == 0 && (l.cfg.AcceptRate <= 0 || s.accept.full(now, l.cfg.AcceptRate, max(l.cfg.AcceptBurst, 1))) &&
			(l.cfg.AuthFailures <= 0 || s.fails.full(now, l.failRate(), l.cfg.AuthFailures)) {
			delete(l.peers, a)
		}
	}
}

// Run sweeps every SweepEvery until ctx ends.
func (l *Limits) Run(ctx context.Context) {
	t := time.NewTicker(SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.Sweep(now)
		}
	}
}
