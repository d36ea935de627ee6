package pool

import (
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wsheal/wsheal/pkg/events"
)

// counters are running totals since the pool started.
type counters struct {
	opened, rejected, stale, evicted, slow atomic.Uint64
	msgsIn, msgsOut, errors                atomic.Uint64
	panics, shed                           atomic.Uint64
	closed                                 [6]atomic.Uint64
}

// Totals are the pool's counters since start, for Prometheus and for the
// per-interval deltas of health snapshots.
type Totals struct {
	Opened, Rejected, Stale, Evicted, Slow uint64
	MsgsIn, MsgsOut, Errors                uint64
	Closed                                 map[string]uint64
	Open                                   int
	Backlog                                int
	// BacklogBytes is the bytes of the frames queued on every connection.
	BacklogBytes int64
	// Panics counts handler panics, each of which closed its connection.
	Panics uint64
	// Shed counts connections closed and upgrades refused by the memory
	// budget.
	Shed uint64
}

// Totals reads the counters.
func (p *Pool) Totals() Totals {
	t := Totals{
		Opened: p.stats.opened.Load(), Rejected: p.stats.rejected.Load(),
		Stale: p.stats.stale.Load(), Evicted: p.stats.evicted.Load(), Slow: p.stats.slow.Load(),
		MsgsIn: p.stats.msgsIn.Load(), MsgsOut: p.stats.msgsOut.Load(), Errors: p.stats.errors.Load(),
		Closed:  make(map[string]uint64, len(causes)),
		Open:    p.Len(),
		Backlog: int(p.backlog.Load()), BacklogBytes: p.backlogBytes.Load(),
		Panics: p.stats.panics.Load(), Shed: p.stats.shed.Load(),
	}
	for i, c := range causes {
		t.Closed[c] = p.stats.closed[i].Load()
	}
	return t
}

// CountError counts an error seen by the protocol handler.
func (p *Pool) CountError() { p.stats.errors.Add(1) }

// TakeRTT returns the round-trip quantiles measured since the last call
// and starts a new interval (the health snapshot's figures).
func (p *Pool) TakeRTT() events.RTT { return p.rtt.quantiles(true) }

// RTT returns the round-trip quantiles of the current interval so far,
// without starting a new one (for status).
func (p *Pool) RTT() events.RTT { return p.rtt.quantiles(false) }

// rttHist counts round trips in logarithmic buckets (2^(i/4) µs) so that
// quantiles per interval cost no allocation and no lock.
type rttHist struct {
	buckets [112]atomic.Uint64
}

func newRTTHist() *rttHist { return &rttHist{} }

func (h *rttHist) observe(d time.Duration) {
	us := float64(d.Microseconds())
	i := 0
	if us > 1 {
		i = int(math.Log2(us) * 4)
	}
	h.buckets[min(i, len(h.buckets)-1)].Add(1)
}

func (h *rttHist) quantiles(reset bool) events.RTT {
	var counts [len(rttHist{}.buckets)]uint64
	var total uint64
	for i := range h.buckets {
		if reset {
			counts[i] = h.buckets[i].Swap(0)
		} else {
			counts[i] = h.buckets[i].Load()
		}
		total += counts[i]
	}
	r := events.RTT{Samples: int(total)}
	if total == 0 {
		return r
	}
	q := func(f float64) float64 {
		want := uint64(math.Ceil(f * float64(total)))
		var seen uint64
		for i, n := range counts {
			seen += n
			if seen >= want {
				return math.Pow(2, float64(i+1)/4) / 1000 // upper bound, ms
			}
		}
		return 0
	}
	r.P50, r.P90, r.P99 = q(0.5), q(0.9), q(0.99)
	return r
}

// Settings returns the limits in force.
func (p *Pool) Settings() events.Settings {
	return events.Settings{
		MaxConns:       int(p.maxConns.Load()),
		AcceptRate:     float64(p.limiter.Limit()),
		AcceptBurst:    p.limiter.Burst(),
		PingIntervalMS: time.Duration(p.pingInterval.Load()).Milliseconds(),
		PongDeadlineMS: time.Duration(p.pongDeadline.Load()).Milliseconds(),
		IdleTimeoutMS:  time.Duration(p.idleTimeout.Load()).Milliseconds(),
	}
}

// Apply puts the limits of s in force. MaxConns 0 admits nobody; an
// IdleTimeoutMS of 0 disables idle eviction; non-positive rates and
// intervals are left unchanged.
func (p *Pool) Apply(s events.Settings) {
	if s.MaxConns >= 0 {
		p.maxConns.Store(int64(s.MaxConns))
	}
	if s.AcceptRate > 0 {
		p.limiter.SetLimit(rate.Limit(s.AcceptRate))
	}
	if s.AcceptBurst > 0 {
		p.limiter.SetBurst(s.AcceptBurst)
	}
	if s.PingIntervalMS > 0 {
		p.pingInterval.Store(int64(time.Duration(s.PingIntervalMS) * time.Millisecond))
	}
	if s.PongDeadlineMS > 0 {
		p.pongDeadline.Store(int64(time.Duration(s.PongDeadlineMS) * time.Millisecond))
	}
	p.idleTimeout.Store(int64(time.Duration(s.IdleTimeoutMS) * time.Millisecond))
}

// PingInterval is the ping interval in force.
func (p *Pool) PingInterval() time.Duration { return time.Duration(p.pingInterval.Load()) }

// Capacity is the connection cap in force.
func (p *Pool) Capacity() int { return int(p.maxConns.Load()) }

// AcceptLimit is the accept rate in force, per second.
func (p *Pool) AcceptLimit() float64 { return float64(p.limiter.Limit()) }
