package fleet

import (
	"errors"
	"testing"
	"time"
)

func registry(regs ...Registration) *Registry {
	r := &Registry{nodes: map[string]Registration{}}
	for _, g := range regs {
		r.set(g)
	}
	return r
}

func picks(t *testing.T, r *Registry, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for range n {
		g, err := r.Pick("", time.Now())
		if err != nil {
			t.Fatalf("pick: %v", err)
		}
		counts[g.Node]++
	}
	return counts
}

// A dead node's crowd asks within one heartbeat, so the registrations do
// not move: the split must come from the picker itself. Tolerance: 10% of
// the even share (the count of sent clients keeps it within a few picks).
func TestPickSpreadsADeadNodesClientsEvenly(t *testing.T) {
	r := registry(reg("dead", 150, 1000, time.Minute, false),
		reg("b", 100, 1000, 0, false), reg("c", 100, 1000, 0, false))
	counts := picks(t, r, 300)
	if counts["dead"] != 0 {
		t.Fatalf("a stale node was picked %d times", counts["dead"])
	}
	for _, n := range []string{"b", "c"} {
		if counts[n] < 135 || counts[n] > 165 {
			t.Fatalf("split %v, want 150 each within 15", counts)
		}
	}
}

// A cooler survivor takes more until both have the same share free:
// b starts 200 behind, so of 300 clients it takes 250 (within 20).
func TestPickFillsTheCoolerNodeFirst(t *testing.T) {
	r := registry(reg("b", 0, 1000, 0, false), reg("c", 200, 1000, 0, false))
	counts := picks(t, r, 300)
	if counts["b"] < 230 || counts["b"] > 270 || counts["b"]+counts["c"] != 300 {
		t.Fatalf("split %v, want b about 250", counts)
	}
}

// A newer registration already counts the clients sent before it.
func TestPickCountResetsOnRegistration(t *testing.T) {
	r := registry(reg("b", 0, 100, 0, false), reg("c", 0, 100, 0, false))
	picks(t, r, 50)
	r.set(reg("b", 0, 100, 0, false))
	r.set(reg("c", 0, 100, 0, false))
	r.mu.RLock()
	n := len(r.sent)
	r.mu.RUnlock()
	if n != 0 {
		t.Fatalf("sent counts survive a new registration: %v", r.sent)
	}
}

func TestPickEdges(t *testing.T) {
	if _, err := registry().Pick("", time.Now()); !errors.Is(err, ErrNoNode) {
		t.Fatalf("empty fleet: %v, want ErrNoNode", err)
	}
	r := registry(reg("a", 0, 10, 0, false), reg("b", 0, 10, 0, true))
	counts := picks(t, r, 30)
	if counts["a"] != 30 {
		t.Fatalf("only a can take clients: %v", counts)
	}
	if _, err := r.Pick("a", time.Now()); !errors.Is(err, ErrNoNode) {
		t.Fatalf("a excluded: %v, want ErrNoNode", err)
	}
}
