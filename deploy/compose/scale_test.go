package compose

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"
)

// scaleUnderLoad scales the gateways of a running stack from three to
// five and back to three under a publishing load, the way an operator
// does (`make scale GATEWAYS=5`, i.e. compose's up --scale): the new
// replicas join the load balancer's rotation and take the clients that
// connect next, the removed ones (the newest: those same clients' nodes)
// get SIGTERM and drain theirs to the others, and no subscriber of either
// set misses or repeats a message of those acknowledged.
func scaleUnderLoad(ctx context.Context, t *testing.T, s *stack) {
	before := s.gateways(ctx)
	if len(before) != 3 {
		t.Fatalf("gateways %v, want three", before)
	}
	first := newFleet(ctx, t, s.entry(), "scale", 12)
	first.publish(ctx, s.entry(), 50*time.Millisecond)
	eventually(t, 30*time.Second, "messages flowing", func() bool { return first.count() >= 20 })
	t.Logf("three gateways %v: subscribers per node %v", before, first.perNode())

	scale := func(n int) {
		t.Helper()
		start := time.Now()
		if out, err := s.dc(ctx, "up", "-d", "--no-deps", "--no-recreate", "--scale", "gateway="+strconv.Itoa(n), "gateway"); err != nil {
			t.Fatalf("scale to %d: %v\n%s", n, err, out)
		}
		if out, err := s.run(ctx, "./wait-healthy.sh", s.project, "180"); err != nil {
			t.Fatalf("not healthy at %d gateways: %v\n%s", n, err, out)
		}
		t.Logf("scaled to %d gateways in %s", n, time.Since(start).Round(100*time.Millisecond))
	}

	// Three to five: new clients land on the new nodes.
	var added []gatewayReplica
	var second *fleet
	{
		scale(5)
		now := s.gateways(ctx)
		if len(now) != 5 {
			t.Fatalf("gateways %v, want five", now)
		}
		for _, g := range now {
			if !slices.Contains(before, g) {
				added = append(added, g)
			}
		}
		// Each new node is reachable by its route through the balancer,
		// which is what its reconnect hints and discovery name.
		for _, g := range added {
			eventually(t, 30*time.Second, g.node+" ready through its route", func() bool {
				return httpStatus(ctx, s.nodeURL(g.node, "/readyz"), "") == 200
			})
		}
		// New clients, on a channel of their own with its own publisher.
		second = newFleet(ctx, t, s.entry(), "scale-new", 12)
		second.publish(ctx, s.entry(), 50*time.Millisecond)
		per := second.perNode()
		onNew := 0
		for _, g := range added {
			onNew += per[g.node]
		}
		t.Logf("five gateways: new clients per node %v (%d of 12 on the two new nodes)", per, onNew)
		if onNew < 4 {
			t.Fatalf("%d of 12 new clients on the two new nodes %v, want most of them (least connections)", onNew, added)
		}
		eventually(t, 30*time.Second, "messages flowing to the new clients", func() bool { return second.count() >= 20 })
	}
	// Five to three: the removed nodes drain.
	{
		scale(3)
		now := s.gateways(ctx)
		if len(now) != 3 {
			t.Fatalf("gateways %v, want three", now)
		}
		for _, f := range []*fleet{first, second} {
			eventually(t, 60*time.Second, "every subscriber connected to a remaining node", func() bool {
				per := f.perNode()
				for n, c := range per {
					if c > 0 && !slices.ContainsFunc(now, func(g gatewayReplica) bool { return g.node == n }) {
						return false
					}
				}
				return true
			})
		}
		t.Logf("three gateways %v: subscribers per node %v and %v", now, first.perNode(), second.perNode())
	}
	// Nothing lost.
	first.stopPublishing()
	second.stopPublishing()
	for _, f := range []*fleet{first, second} {
		eventually(t, 90*time.Second, "every subscriber has every acknowledged message", func() bool { return f.missing() == "" })
		f.verify(t)
	}
}
