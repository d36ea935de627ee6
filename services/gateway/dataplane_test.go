package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/events/natstest"
)

// TestDataPlaneReported: the health snapshot carries the data plane
// (subscribes, resumes, replayed messages, channels, the channel stream's
// bytes and limit, no consumer) and /metrics exports the same.
func TestDataPlaneReported(t *testing.T) {
	ns := natstest.Start(t)
	got := make(chan *events.Event, 1000)
	sub, err := ns.Conn().Subscribe(events.HealthSubject("gw-dp"), func(m *nats.Msg) {
		if ev, err := events.Decode(m.Data); err == nil {
			got <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	s := startNode(t, testConfig(ns, "gw-dp"))
	seqs := publishMany(t, ns, "dp", 0, 6)
	c := dial(t, s.URL())
	reply := c.reply(c.send(frame.Client{Op: frame.OpSubscribe, Channel: "dp", Since: &seqs[0]}), nil)
	if reply.Recovered == nil || !*reply.Recovered {
		t.Fatalf("resume = %+v", reply)
	}
	c.reply(c.send(frame.Client{Op: frame.OpSubscribe, Channel: "dp", Since: &seqs[5], Epoch: "elsewhere"}), nil)
	waitEvent(t, got, func(ev *events.Event) bool {
		h, ok := ev.Payload.(*events.Health)
		if !ok {
			return false
		}
		dp := h.DataPlane
		return dp.Channels == 1 && dp.StreamBytes > 0 && dp.StreamMaxBytes == events.DefaultChannelLimits.MaxBytes &&
			dp.Consumers == 0 && dp.StoreUsed > 0
	}, "health with the channel stream")
	resp, err := http.Get(strings.Replace(strings.TrimSuffix(s.URL(), "/ws"), "ws://", "http://", 1) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"wsheal_gateway_resumes_total 2", "wsheal_gateway_resumes_not_recovered_total 1",
		"wsheal_gateway_replayed_messages_total 5", "wsheal_gateway_subscribes_total 2",
		"wsheal_gateway_channel_stream_consumers 0", "wsheal_gateway_channel_stream_bytes",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
