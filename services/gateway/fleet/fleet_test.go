package fleet

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/natstest"
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
			r := &Registry{nodes: map[string]Registration{}}
			for _, g := range tc.regs {
				r.set(g)
			}
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
