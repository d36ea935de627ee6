package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestControlStatusAndReconnect(t *testing.T) {
	ns := natstest.Start(t)
	s := startNode(t, testConfig(ns, "gw-ctl"))
	clients := []*client{dial(t, s.URL()), dial(t, s.URL()), dial(t, s.URL())}
	var st events.GatewayStatus
	if err := request(t, ns, "gw-ctl", events.VerbStatus, events.GatewayStatusRequest{Conns: true}, &st); err != nil {
		t.Fatal(err)
	}
	if st.Node != "gw-ctl" || st.Connections != 3 || len(st.Conns) != 3 || st.Settings.MaxConns != 1000 {
		t.Fatalf("status = %+v", st)
	}
	target := clients[1].hello.Session
	var rep events.ReconnectReply
	cmd := events.ReconnectCommand{ID: "r1", Select: events.SelectIDs, IDs: []string{target}}
	if err := request(t, ns, "gw-ctl", events.VerbReconnect, cmd, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Selected != 1 {
		t.Fatalf("reconnect reply = %+v", rep)
	}
	clients[1].expect(frame.OpReconnect)
	if code := clients[1].waitClosed(5 * time.Second); code != frame.CloseReconnect {
		t.Fatalf("close code %d", code)
	}
	// The same id again is not done again.
	if err := request(t, ns, "gw-ctl", events.VerbReconnect, events.ReconnectCommand{ID: "r1", Select: events.SelectAll}, &rep); err != nil || rep.Selected != 1 {
		t.Fatalf("repeat: %v %+v", err, rep)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return s.pool.Len() == 2 }, "repeat reconnected more clients")
	if err := request(t, ns, "gw-ctl", events.VerbReconnect, events.ReconnectCommand{ID: "r2", Select: events.SelectAll, Count: 1}, &rep); err != nil || rep.Selected != 1 {
		t.Fatalf("count 1: %v %+v", err, rep)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return s.pool.Len() == 1 }, "count not applied")
}

func TestControlResizePersists(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-rs")
	s, stop := runNode(t, cfg)
	five, seven := 5, 7
	var set events.Settings
	if err := request(t, ns, "gw-rs", events.VerbResize, events.ResizeCommand{ID: "z1", MaxConns: &five}, &set); err != nil {
		t.Fatal(err)
	}
	if set.MaxConns != 5 || s.pool.Capacity() != 5 {
		t.Fatalf("settings %+v capacity %d", set, s.pool.Capacity())
	}
	if err := request(t, ns, "gw-rs", events.VerbResize, events.ResizeCommand{ID: "z1", MaxConns: &seven}, &set); err != nil {
		t.Fatal(err)
	}
	if set.MaxConns != 5 || s.pool.Capacity() != 5 {
		t.Fatalf("same id applied twice: %+v capacity %d", set, s.pool.Capacity())
	}
	stop()
	s2 := startNode(t, cfg)
	if s2.pool.Capacity() != 5 {
		t.Fatalf("restarted capacity %d, want the desired 5", s2.pool.Capacity())
	}
	// The command id is remembered across the restart.
	if err := request(t, ns, "gw-rs", events.VerbResize, events.ResizeCommand{ID: "z1", MaxConns: &seven}, &set); err != nil || set.MaxConns != 5 || s2.pool.Capacity() != 5 {
		t.Fatalf("same id after restart: %v %+v capacity %d", err, set, s2.pool.Capacity())
	}
	if err := request(t, ns, "gw-rs", events.VerbResize, events.ResizeCommand{ID: "z2", Reset: true}, &set); err != nil || set.MaxConns != cfg.MaxConns {
		t.Fatalf("reset: %v %+v", err, set)
	}
}

func TestControlMalformed(t *testing.T) {
	ns := natstest.Start(t)
	startNode(t, testConfig(ns, "gw-mf"))
	nc := ns.Conn()
	cases := []struct{ name, verb, body string }{
		{"not json", events.VerbDrain, `{`},
		{"unknown field", events.VerbResize, `{"id":"x","max_conn":3}`},
		{"missing id", events.VerbUndrain, `{}`},
		{"nothing to resize", events.VerbResize, `{"id":"x"}`},
		{"bad selector", events.VerbReconnect, `{"id":"x","select":"some"}`},
		{"bad status", events.VerbStatus, `{"select":"x"}`},
		{"trailing", events.VerbDrain, `{"id":"x"} {}`},
		{"unknown target", events.VerbDrain, `{"id":"t1","target":"nowhere"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := nc.Request(events.GatewayControlSubject("gw-mf", tc.verb), []byte(tc.body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			err = events.DecodeReply(msg.Data, nil)
			var ce *events.Error
			if !errors.As(err, &ce) || (ce.Code != events.CodeBadRequest && ce.Code != events.CodeNotFound) {
				t.Fatalf("reply %s: %v", msg.Data, err)
			}
		})
	}
	var st events.GatewayStatus
	if err := request(t, ns, "gw-mf", events.VerbStatus, nil, &st); err != nil || st.Draining {
		t.Fatalf("status after malformed commands: %v %+v", err, st)
	}
}

func TestEventsAndEndpoints(t *testing.T) {
	ns := natstest.Start(t)
	got := make(chan *events.Event, 1000)
	sub, err := ns.Conn().Subscribe("wsheal.evt.gw.gw-ev.>", func(m *nats.Msg) {
		if ev, err := events.Decode(m.Data); err == nil {
			got <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	s, stop := runNode(t, testConfig(ns, "gw-ev"))
	waitEvent(t, got, func(ev *events.Event) bool {
		l, ok := ev.Payload.(*events.Lifecycle)
		return ok && l.Phase == events.LifecycleStarted
	}, "started")
	dial(t, s.URL())
	waitEvent(t, got, func(ev *events.Event) bool {
		h, ok := ev.Payload.(*events.Heartbeat)
		return ok && h.Connections == 1 && h.URL == s.URL() && h.Capacity == 1000
	}, "heartbeat")
	waitEvent(t, got, func(ev *events.Event) bool {
		h, ok := ev.Payload.(*events.Health)
		return ok && h.Connections == 1 && h.Goroutines > 0
	}, "health")
	assertStatus(t, s.URL(), "/healthz", 200)
	assertStatus(t, s.URL(), "/readyz", 200)
	body := assertStatus(t, s.URL(), "/v1/connect", 200)
	var best struct{ URL string }
	if err := json.Unmarshal(body, &best); err != nil || best.URL != s.URL() {
		t.Fatalf("connect = %s", body)
	}
	stop()
	waitEvent(t, got, func(ev *events.Event) bool {
		l, ok := ev.Payload.(*events.Lifecycle)
		return ok && l.Phase == events.LifecycleStopping
	}, "stopping")
}

func waitEvent(t *testing.T, got chan *events.Event, match func(*events.Event) bool, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case ev := <-got:
			if match(ev) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", what)
		}
	}
}

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
		`wsheal_gateway_resume_results_total{recovered="true"} 1`, `wsheal_gateway_resume_results_total{recovered="false"} 1`,
		`wsheal_gateway_subscribe_seconds_count{result="ok",resume="true"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The client hangs up: its lifetime is observed under its cause.
	_ = c.ws.NetConn().Close()
	base := strings.Replace(strings.TrimSuffix(s.URL(), "/ws"), "ws://", "http://", 1)
	natstest.Eventually(t, 10*time.Second, func() bool {
		m, err := service.Scrape(context.Background(), http.DefaultClient, base+"/metrics", "")
		return err == nil && m[`wsheal_gateway_connection_lifetime_seconds_count{cause="client"}`] == 1
	}, "the connection's lifetime observed")
	waitEvent(t, got, func(ev *events.Event) bool {
		h, ok := ev.Payload.(*events.Health)
		if !ok {
			return false
		}
		e := h.Ends[events.CauseClient]
		return e.Count == 1 && e.MsgsIn >= 2 && e.Buckets[0] == 1 && len(e.Buckets) == len(events.LifetimeBounds)+1
	}, "health with the connection's end, its age and messages")
}
