package bench

import (
	"context"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestLoadSnapshotFollowsANodeKill: a running Load shows its clients per
// node; after one node is killed they all move to the other, nothing is
// missing once they are back, and Stop reports no loss.
func TestLoadSnapshotFollowsANodeKill(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, nodeConfig(ns, "gw-a"))
	b := startNode(t, nodeConfig(ns, "gw-b"))
	cfg := Config{URLs: []string{a.URL(), b.URL()}, Clients: 60, Channels: 3, Rate: 30, DialRate: 1000}
	l, err := Start(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(l.Channels()); got != 3 {
		t.Fatalf("channels %d", got)
	}
	var s Snapshot
	natstest.Eventually(t, 10*time.Second, func() bool {
		s = l.Snapshot()
		return s.Live == s.Conns && s.PerNode["gw-a"] > 0 && s.PerNode["gw-b"] > 0 && s.Sent > 0
	}, "clients not spread over both nodes: %+v", s)
	a.Kill()
	natstest.Eventually(t, 20*time.Second, func() bool {
		s = l.Snapshot()
		return s.PerNode["gw-a"] == 0 && s.PerNode["gw-b"] == s.Conns && s.Live == s.Conns && s.Reconnects > 0
	}, "clients not rehomed on gw-b: %+v", s)
	natstest.Eventually(t, 10*time.Second, func() bool { s = l.Snapshot(); return s.Missing == 0 },
		"deliveries still missing: %+v", s)
	rep := l.Stop(context.Background())
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.Sent == 0 || rep.Delivered != rep.Expected {
		t.Fatalf("report after a node kill: %+v", rep)
	}
	if again := l.Stop(context.Background()); again != rep {
		t.Fatal("a second Stop built another report")
	}
}
