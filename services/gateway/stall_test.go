package gateway

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestResumeAfterChannelPurge: an operator purges a channel while a client
// of the node follows it live. Another client resumes from before the
// purge: the node must not leave its subscribe unanswered (docs/protocol.md:
// a resume never waits silently). It answers recovered:false within
// REPLAY_STALL, the live flow follows, and the stall is counted.
func TestResumeAfterChannelPurge(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-a")
	cfg.ReplayStall = 500 * time.Millisecond
	node := startNode(t, cfg)

	pub := dial(t, node.URL())
	publish := func(ch string) uint64 {
		t.Helper()
		data, _ := json.Marshal(map[string]string{"on": ch})
		f := pub.reply(pub.send(frame.Client{Op: frame.OpPublish, Channel: ch, Data: data}), nil)
		if f.Op != frame.OpReply {
			t.Fatalf("publish on %s = %+v", ch, f)
		}
		return f.Seq
	}
	publish("other") // keeps the stream's first sequence before the gap
	live := dial(t, node.URL())
	if f := live.reply(live.send(frame.Client{Op: frame.OpSubscribe, Channel: "news"}), nil); f.Op != frame.OpReply {
		t.Fatalf("live subscribe = %+v", f)
	}
	var seqs []uint64
	for range 5 {
		seqs = append(seqs, publish("news"))
	}
	for range seqs {
		live.expect(frame.OpMessage)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, js := ns.JetStream()
	st, err := js.Stream(ctx, events.StreamChannels)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(events.ChannelSubject("news"))); err != nil {
		t.Fatal(err)
	}

	again := dial(t, node.URL())
	since := seqs[1]
	var replayed []frame.Server
	res := again.reply(again.send(frame.Client{Op: frame.OpSubscribe, Channel: "news", Since: &since}), &replayed)
	if res.Op != frame.OpReply || res.Recovered == nil || *res.Recovered || res.Seq < seqs[4] || len(replayed) != 0 {
		t.Fatalf("resume after the purge: %+v after %d msgs, want recovered:false at %d or later", res, len(replayed), seqs[4])
	}
	if n := node.hub.Stats().ReplayStalls; n != 1 {
		t.Fatalf("replay stalls = %d, want 1", n)
	}
	next := publish("news")
	if f := again.expect(frame.OpMessage); f.Seq != next {
		t.Fatalf("live after the resume: %+v, want seq %d", f, next)
	}
}
