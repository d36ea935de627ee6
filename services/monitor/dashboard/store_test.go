package dashboard

import (
	"slices"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestRingKeepsTheLastValuesInOrder(t *testing.T) {
	cases := []struct {
		pushed int
		want   []int
	}{
		{0, nil},
		{2, []int{0, 1}},
		{3, []int{0, 1, 2}},
		{7, []int{4, 5, 6}},
	}
	for _, c := range cases {
		r := newRing[int](3)
		for i := range c.pushed {
			r.push(i)
		}
		if got := r.items(); !slices.Equal(got, c.want) {
			t.Errorf("after %d pushes: %v, want %v", c.pushed, got, c.want)
		}
	}
}

func TestSampleShowsFreshNodesAndForgetsOldOnes(t *testing.T) {
	now := time.Now()
	s := newStore(time.Minute, time.Second, 10)
	hb := func(node string, conns int) events.Heartbeat {
		return events.Heartbeat{Node: node, Connections: conns, IntervalMS: 1000}
	}
	s.heartbeat(hb("fresh", 7), now.Add(-time.Second))
	s.heartbeat(hb("silent", 8), now.Add(-10*time.Second))
	s.heartbeat(hb("gone", 9), now.Add(-2*time.Minute))
	p := s.sample(now)
	if len(p.N) != 1 || p.N["fresh"] != 7 {
		t.Fatalf("point %v, want only fresh=7", p.N)
	}
	if _, ok := s.beats["gone"]; ok {
		t.Fatal("a node silent for longer than the window is still kept")
	}
	if _, ok := s.beats["silent"]; !ok {
		t.Fatal("a node silent for less than the window was forgotten")
	}
	s.addHealth(events.Health{Node: "silent", RTT: events.RTT{P99: 3}}, now)
	snap := s.snapshot(now)
	if !slices.Equal(snap.Nodes, []string{"fresh", "silent"}) || len(snap.Points) != 1 {
		t.Fatalf("snapshot nodes %v points %d", snap.Nodes, len(snap.Points))
	}
}

func TestHubDropsASlowStreamAndCloses(t *testing.T) {
	h := newHub()
	slow, _ := h.join()
	fast, _ := h.join()
	for range clientBuffer {
		h.broadcast("tick", 1)
		<-fast
	}
	h.broadcast("tick", 2) // slow has clientBuffer frames queued: dropped
	if h.count() != 1 {
		t.Fatalf("%d streams, want the slow one dropped", h.count())
	}
	n := 0
	for range slow {
		n++
	}
	if n != clientBuffer {
		t.Fatalf("slow stream got %d frames before closing, want %d", n, clientBuffer)
	}
	if f := <-fast; string(f) != "event: tick\ndata: 2\n\n" {
		t.Fatalf("frame %q", f)
	}
	h.close()
	if _, open := <-fast; open {
		t.Fatal("close left a stream open")
	}
	if _, ok := h.join(); ok {
		t.Fatal("joined a closed hub")
	}
	h.reopen()
	if _, ok := h.join(); !ok {
		t.Fatal("could not join after reopen")
	}
}
