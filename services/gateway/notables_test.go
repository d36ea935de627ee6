package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestNotablesRateLimited: a storm of 1000 notable events publishes at
// most the burst, and the count of the rest is carried in Suppressed.
func TestNotablesRateLimited(t *testing.T) {
	ns := natstest.Start(t)
	nc, js := ns.JetStream()
	got := make(chan *events.ConnEvent, 2000)
	sub, err := nc.Subscribe(events.ConnSubject("gw-n"), func(m *nats.Msg) {
		if ev, err := events.Decode(m.Data); err == nil {
			got <- ev.Payload.(*events.ConnEvent)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	cfg := Config{Node: "gw-n", ConnEventRate: 5, ConnEventBurst: 10}
	n := newNotables(cfg, events.NewEmitter(nc, js, "/wsheal/gateway/gw-n"), zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.run(ctx)
	for range 1000 {
		n.emit(events.ConnEvent{Node: "gw-n", Kind: events.ConnStale})
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return len(got) >= 10 }, "burst not published")
	natstest.Eventually(t, 5*time.Second, func() bool { return n.limiter.Tokens() >= 1 }, "bucket not refilled")
	n.emit(events.ConnEvent{Node: "gw-n", Kind: events.ConnStale})
	total, suppressed := 0, 0
	deadline := time.After(5 * time.Second)
	for total+suppressed < 1001 {
		select {
		case ev := <-got:
			total++
			suppressed += ev.Suppressed
		case <-deadline:
			t.Fatalf("published %d, suppressed %d of 1001", total, suppressed)
		}
	}
	if total > 12 {
		t.Fatalf("published %d events of a storm, want about the burst of 10", total)
	}
}
