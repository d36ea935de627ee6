package rebalance_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/services/healer/rebalance"
)

// sim is a fleet whose moves land exactly (or, with leak, partly) where asked.
type sim struct {
	mu    sync.Mutex
	conns map[string]int
	order []string
	leak  int // connections of each move that reconnect to the sender itself
	pairs map[[2]string]int
}

func (s *sim) loads() []rebalance.Load {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]rebalance.Load, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, rebalance.Load{ID: id, Conns: s.conns[id]})
	}
	return out
}

func (s *sim) Move(_ context.Context, _, from, to string, count int, _ time.Duration) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	moved := max(0, count-s.leak)
	s.conns[from] -= moved
	s.conns[to] += moved
	s.pairs[[2]string{from, to}] += moved
	return moved, nil
}

func TestRunReachesTheBoundWithoutPingPong(t *testing.T) {
	cases := []struct {
		name  string
		start []int
		leak  int
	}{
		{"two nodes, one came back empty", []int{200, 0}, 0},
		{"two nodes, mild", []int{130, 70}, 0},
		{"three nodes, one came back", []int{150, 150, 0}, 0},
		{"three nodes, one hot", []int{300, 50, 40}, 0},
		{"three nodes, lossy moves", []int{300, 50, 40}, 1},
		{"five nodes", []int{500, 20, 20, 20, 20}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sim{conns: map[string]int{}, pairs: map[[2]string]int{}}
			for i, n := range c.start {
				id := string(rune('a' + i))
				s.order = append(s.order, id)
				s.conns[id] = n
			}
			p := rebalance.Params{ID: "t", Bound: 1.2, WaveFraction: 0.25, WavePause: time.Millisecond, MaxWaves: 50}
			res, err := rebalance.Run(context.Background(), p, s.loads, s)
			if err != nil {
				t.Fatalf("run: %v (%+v)", err, res)
			}
			if r, _ := rebalance.Ratio(s.loads()); r > 1.2 {
				t.Fatalf("ratio %.2f above the bound", r)
			}
			for pair := range s.pairs {
				if s.pairs[[2]string{pair[1], pair[0]}] > 0 {
					t.Fatalf("connections moved both ways between %s and %s: %v", pair[0], pair[1], s.pairs)
				}
			}
			// A second run on the balanced fleet does nothing.
			again, err := rebalance.Run(context.Background(), p, s.loads, s)
			if err != nil || again.Moved != 0 {
				t.Fatalf("a balanced fleet was moved again: %+v %v", again, err)
			}
		})
	}
}

func TestPlanNeverCrossesTheMean(t *testing.T) {
	loads := []rebalance.Load{{"a", 100}, {"b", 20}}
	roles := rebalance.Assign(loads)
	moves := rebalance.Plan(loads, roles, 1)
	if len(moves) != 1 || moves[0].Count != 40 || moves[0].From != "a" || moves[0].To != "b" {
		t.Fatalf("plan %+v", moves)
	}
	// With the roles of the run, a receiver that overshot never sends back.
	over := []rebalance.Load{{"a", 50}, {"b", 70}}
	if moves := rebalance.Plan(over, roles, 1); len(moves) != 0 {
		t.Fatalf("moved back: %+v", moves)
	}
}

func TestRunStopsWhenNothingHelps(t *testing.T) {
	s := &sim{conns: map[string]int{"a": 100, "b": 0}, order: []string{"a", "b"}, pairs: map[[2]string]int{}, leak: 1 << 20}
	p := rebalance.Params{ID: "t", Bound: 1.2, WaveFraction: 0.5, WavePause: time.Millisecond, MaxWaves: 3}
	if _, err := rebalance.Run(context.Background(), p, s.loads, s); err == nil {
		t.Fatal("a fleet that never moves was reported balanced")
	}
}

// lagged is a fleet whose loads trail the moves by some reads, as
// heartbeats trail clients that reconnect.
type lagged struct {
	sim
	lag     int
	reads   int
	pending []landing
}

type landing struct {
	from, to string
	n, due   int
}

func (l *lagged) loads() []rebalance.Load {
	l.mu.Lock()
	l.reads++
	kept := l.pending[:0]
	for _, p := range l.pending {
		if p.due > l.reads {
			kept = append(kept, p)
			continue
		}
		l.conns[p.from] -= p.n
		l.conns[p.to] += p.n
	}
	l.pending = kept
	l.mu.Unlock()
	return l.sim.loads()
}

func (l *lagged) Move(_ context.Context, _, from, to string, count int, _ time.Duration) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, landing{from: from, to: to, n: count, due: l.reads + l.lag})
	l.pairs[[2]string{from, to}] += count
	return count, nil
}

func TestRunWaitsForAWaveToLandBeforeTheNext(t *testing.T) {
	for _, start := range [][]int{{36, 0}, {36, 0, 0}, {150, 150, 0}} {
		l := &lagged{sim: sim{conns: map[string]int{}, pairs: map[[2]string]int{}}, lag: 3}
		for i, n := range start {
			id := string(rune('a' + i))
			l.order = append(l.order, id)
			l.conns[id] = n
		}
		p := rebalance.Params{ID: "t", Bound: 1.2, WaveFraction: 0.5, WavePause: 4 * time.Millisecond, MaxWaves: 10}
		res, err := rebalance.Run(context.Background(), p, l.loads, l)
		if err != nil {
			t.Fatalf("%v: run: %v (%+v)", start, err, res)
		}
		for l.loads(); len(l.pending) > 0; l.loads() {
		}
		if r, _ := rebalance.Ratio(l.sim.loads()); r > 1.2 {
			t.Fatalf("%v: overshot to %v (ratio %.2f, moves %+v)", start, l.conns, r, res.Moves)
		}
	}
}
