package fleet

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func reg(node string, conns, capacity int, age time.Duration, draining bool) Registration {
	return Registration{Node: node, URL: "ws://" + node + "/ws", Connections: conns, Capacity: capacity,
		Draining: draining, UpdatedAt: time.Now().Add(-age), HeartbeatMS: 1000}
}

func TestBest(t *testing.T) {
	cases := []struct {
		name    string
		regs    []Registration
		exclude string
		want    string
	}{
		{"least loaded", []Registration{reg("a", 50, 100, 0, false), reg("b", 10, 100, 0, false)}, "", "b"},
		{"by ratio", []Registration{reg("a", 50, 1000, 0, false), reg("b", 10, 100, 0, false)}, "", "a"},
		{"stale skipped", []Registration{reg("a", 50, 100, 0, false), reg("b", 0, 100, 10*time.Second, false)}, "", "a"},
		{"draining skipped", []Registration{reg("a", 50, 100, 0, false), reg("b", 0, 100, 0, true)}, "", "a"},
		{"full skipped", []Registration{reg("a", 100, 100, 0, false), reg("b", 99, 100, 0, false)}, "", "b"},
		{"excluded", []Registration{reg("a", 50, 100, 0, false), reg("b", 0, 100, 0, false)}, "b", "a"},
		{"none", []Registration{reg("a", 0, 100, time.Minute, false)}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := registry(tc.regs...)
			best, err := r.Best(tc.exclude, time.Now())
			if tc.want == "" {
				if !errors.Is(err, ErrNoNode) {
					t.Fatalf("want ErrNoNode, got %+v %v", best, err)
				}
				return
			}
			if err != nil || best.Node != tc.want {
				t.Fatalf("best = %q %v, want %q", best.Node, err, tc.want)
			}
		})
	}
}

func TestPickerSpreadsByFreeCapacity(t *testing.T) {
	p := NewPicker([]Registration{reg("a", 0, 300, 0, false), reg("b", 0, 100, 0, false)})
	counts := map[string]int{}
	for range 4000 {
		counts[p.Pick()]++
	}
	a, b := counts["ws://a/ws"], counts["ws://b/ws"]
	if a < 2600 || a > 3400 || a+b != 4000 {
		t.Fatalf("picks a=%d b=%d, want about 3:1", a, b)
	}
	if NewPicker(nil).Pick() != "" {
		t.Fatal("empty picker must pick nothing")
	}
}

func TestRegistryOverKV(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.JetStream()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writer, err := Open(ctx, js, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	reader, err := Open(ctx, js, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = reader.Watch(ctx) }()
	if err := writer.Put(ctx, reg("n1", 3, 10, 0, false)); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool {
		g, ok := reader.Get("n1")
		return ok && g.Connections == 3
	}, "registration not seen by the watcher")
	if err := writer.Delete(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { _, ok := reader.Get("n1"); return !ok }, "delete not seen")
}

func registry(regs ...Registration) *Registry {
	r := newRegistry(nil, nil, zerolog.Nop())
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
	r.mu.Lock()
	n := len(r.sent)
	r.mu.Unlock()
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
