package system

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/client"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestGatewayQuietChannelResumes: busy channels turn a byte-limited
// stream over while a channel stays quiet; its position follows the
// stream (pos frames), so a client that resumes from it after the quiet
// channel's own messages left retention gets every message published
// meanwhile, with no gap.
func TestGatewayQuietChannelResumes(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.JetStream()
	st, err := js.Stream(context.Background(), events.StreamChannels)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxBytes, cfg.Discard = 64<<10, jetstream.DiscardOld
	if _, err := js.UpdateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	node := startNode(t, nodeConfig(ns, "gw-quiet"))
	rec := &recorder{}
	c := dialT(t, testConfig(rec, node.URL()))
	sub, err := c.Subscribe(context.Background(), "quiet", rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	pub := dialT(t, testConfig(&recorder{}, node.URL()))
	publishAll(t, pub, "quiet", 1, 2)
	natstest.Eventually(t, 10*time.Second, func() bool { return rec.count() == 2 }, "first 2")
	first, _, _, _ := rec.snapshot()
	pad := []byte(`"` + strings.Repeat("x", 1000) + `"`)
	for {
		for range 8 { // an eighth of the stream's bytes
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := pub.Publish(ctx, "busy", pad)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		half := info.State.FirstSeq + (info.State.LastSeq-info.State.FirstSeq)/2
		natstest.Eventually(t, 10*time.Second, func() bool { return sub.LastSeq() > half },
			"position %d not moved past the stream's middle %d", sub.LastSeq(), half)
		if info.State.FirstSeq > first[1]+64 {
			break
		}
	}
	pos, epoch := sub.LastSeq(), sub.Epoch()
	c.Close()
	publishAll(t, pub, "quiet", 3, 6)
	again := &recorder{}
	c2 := dialT(t, testConfig(again, node.URL()))
	if _, err := c2.Subscribe(context.Background(), "quiet", again.handle, client.WithPosition(pos, epoch)); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return again.count() == 4 }, "4 messages after the resume, got %d", again.count())
	_, data, gaps, _ := again.snapshot()
	if len(gaps) != 0 || !slices.Equal(data, []string{"3", "4", "5", "6"}) {
		t.Fatalf("resumed from %d: %v, gaps %+v; want 3..6 and no gap", pos, data, gaps)
	}
}
