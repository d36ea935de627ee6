package client

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/natstest"
)

// TestGatewayStreamRecreated: the channel stream is deleted and created
// again under a live subscription. The node asks the client to start over;
// it resumes with its old position and epoch, is told recovered:false
// (a Gap), learns the new epoch, and delivers the new stream's messages
// from there on, in order.
func TestGatewayStreamRecreated(t *testing.T) {
	ns := natstest.Start(t)
	node := startNode(t, nodeConfig(ns, "gw-ep"))
	rec := &recorder{}
	c := dialT(t, testConfig(rec, node.URL()))
	sub, err := c.Subscribe(context.Background(), "feed", rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	pub := dialT(t, testConfig(&recorder{}, node.URL()))
	publishAll(t, pub, "feed", 1, 5)
	eventually(t, 10*time.Second, func() bool { return rec.count() == 5 }, "first 5")
	before := sub.Epoch()
	if before == "" {
		t.Fatal("no epoch after the subscribe reply")
	}

	_, js := ns.JetStream()
	if err := js.DeleteStream(context.Background(), events.StreamChannels); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	// Messages of the new stream: their sequences start again, below what
	// the client delivered. Publish until the client is back on the new
	// epoch, then ten more that must all arrive.
	eventually(t, 20*time.Second, func() bool {
		publishAll(t, pub, "feed", 100, 100)
		_, _, gaps, _ := rec.snapshot()
		return len(gaps) == 1 && sub.Epoch() != before
	}, "no gap reported on the new epoch (gaps %v, epoch %q)", len(rec.gaps), sub.Epoch())
	publishAll(t, pub, "feed", 1001, 1010)
	eventually(t, 10*time.Second, func() bool {
		_, data, _, _ := rec.snapshot()
		return len(data) >= 15 && data[len(data)-1] == "1010"
	}, "new messages after the gap")
	seqs, data, gaps, _ := rec.snapshot()
	tail := data[len(data)-10:]
	for i, d := range tail {
		if want := 1001 + i; d != strconv.Itoa(want) {
			t.Fatalf("after the gap: %v", tail)
		}
	}
	if gaps[0].After != seqs[4] {
		t.Fatalf("gap %+v", gaps[0])
	}
	if !slices.IsSorted(seqs[5:]) {
		t.Fatalf("sequences of the new epoch out of order: %v", seqs[5:])
	}
}
