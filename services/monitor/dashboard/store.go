package dashboard

import (
	"sort"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// ring keeps the last len(buf) values pushed, oldest first on read.
type ring[T any] struct {
	buf  []T
	next int
	full bool
}

func newRing[T any](n int) *ring[T] { return &ring[T]{buf: make([]T, n)} }

func (r *ring[T]) push(v T) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// items copies the values, oldest first.
func (r *ring[T]) items() []T {
	if !r.full {
		return append([]T(nil), r.buf[:r.next]...)
	}
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// point is one chart sample: connections per node heard from recently.
// A node missing from N had no fresh heartbeat at T (a gap in its line).
type point struct {
	T int64          `json:"t"` // unix milliseconds
	N map[string]int `json:"n"`
}

// healthPoint is one health snapshot of a node, for the RTT and stale charts.
type healthPoint struct {
	T     int64   `json:"t"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Stale int     `json:"stale"`
}

// beat is the last heartbeat of a node and when it was heard.
type beat struct {
	hb    events.Heartbeat
	heard time.Time
}

// store holds the server-side history a fresh page starts from.
type store struct {
	mu     sync.Mutex
	window time.Duration
	beats  map[string]beat
	points *ring[point]
	health map[string]*ring[healthPoint]
	hsize  int
	feed   *ring[Item]
}

func newStore(window, sample time.Duration, feed int) *store {
	n := max(int(window/sample), 2)
	return &store{
		window: window,
		beats:  map[string]beat{},
		points: newRing[point](n),
		health: map[string]*ring[healthPoint]{},
		hsize:  n,
		feed:   newRing[Item](feed),
	}
}

// heartbeat records the last heartbeat of a node.
func (s *store) heartbeat(hb events.Heartbeat, heard time.Time) {
	s.mu.Lock()
	s.beats[hb.Node] = beat{hb: hb, heard: heard}
	s.mu.Unlock()
}

// fresh reports whether a heartbeat still counts at now: heard within
// three of the node's intervals (at least three seconds).
func (b beat) fresh(now time.Time) bool {
	lim := max(3*time.Duration(b.hb.IntervalMS)*time.Millisecond, 3*time.Second)
	return now.Sub(b.heard) <= lim
}

// sample takes a chart point at now and forgets nodes silent for longer
// than the window.
func (s *store) sample(now time.Time) point {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := point{T: now.UnixMilli(), N: map[string]int{}}
	for node, b := range s.beats {
		switch {
		case b.fresh(now):
			p.N[node] = b.hb.Connections
		case now.Sub(b.heard) > s.window:
			delete(s.beats, node)
		}
	}
	s.points.push(p)
	return p
}

// addHealth records a health snapshot.
func (s *store) addHealth(h events.Health, at time.Time) healthPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.health[h.Node]
	if !ok {
		r = newRing[healthPoint](s.hsize)
		s.health[h.Node] = r
	}
	hp := healthPoint{T: at.UnixMilli(), P50: h.RTT.P50, P99: h.RTT.P99, Stale: h.Stale}
	r.push(hp)
	return hp
}

// addItem appends a feed item.
func (s *store) addItem(it Item) {
	s.mu.Lock()
	s.feed.push(it)
	s.mu.Unlock()
}

// Snapshot is what a fresh page loads: the chart history, the health
// history per node and the recent feed, oldest first.
type Snapshot struct {
	Now    int64                    `json:"now"`
	Window int64                    `json:"window_ms"`
	Nodes  []string                 `json:"nodes"`
	Points []point                  `json:"points"`
	Health map[string][]healthPoint `json:"health"`
	Feed   []Item                   `json:"feed"`
}

func (s *store) snapshot(now time.Time) Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := now.Add(-s.window).UnixMilli()
	snap := Snapshot{Now: now.UnixMilli(), Window: s.window.Milliseconds(), Health: map[string][]healthPoint{}}
	seen := map[string]bool{}
	for _, p := range s.points.items() {
		if p.T < cutoff {
			continue
		}
		snap.Points = append(snap.Points, p)
		for n := range p.N {
			seen[n] = true
		}
	}
	for node, r := range s.health {
		var hs []healthPoint
		for _, hp := range r.items() {
			if hp.T >= cutoff {
				hs = append(hs, hp)
			}
		}
		if len(hs) > 0 {
			snap.Health[node] = hs
			seen[node] = true
		}
	}
	for n := range seen {
		snap.Nodes = append(snap.Nodes, n)
	}
	sort.Strings(snap.Nodes)
	snap.Feed = s.feed.items()
	return snap
}
