package monitor_test

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
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor"
)

func request(t *testing.T, srv *natstest.Server, verb string, cmd, out any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return events.Request(ctx, srv.Conn(), events.ControlSubject(events.ServiceMonitor, verb), cmd, out)
}

func TestControlVerbs(t *testing.T) {
	srv := natstest.Start(t)
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "v", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)
	nodes[0].Kill()
	natstest.Eventually(t, 10*time.Second, func() bool { return m.state("v1") == events.NodeDown }, "v1 down")

	var st events.FleetStatus
	if err := request(t, srv, events.VerbStatus, nil, &st); err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.Instance != "m1" || len(st.Nodes) != 3 || st.ByState[events.NodeDown] != 1 || st.OpenAnomalies < 1 || !st.Connected {
		t.Fatalf("status %+v", st)
	}
	row := st.Nodes[1]
	if row.Node != "v2" || row.Connections != 100 || row.Capacity != 1000 || row.URL == "" {
		t.Fatalf("row %+v", row)
	}
	if err := request(t, srv, events.VerbStatus, &events.FleetStatusRequest{State: events.NodeDown}, &st); err != nil || len(st.Nodes) != 1 || st.Nodes[0].Node != "v1" {
		t.Fatalf("filtered status %+v %v", st.Nodes, err)
	}

	var d events.NodeDetail
	if err := request(t, srv, events.VerbMonitorNode, &events.NodeRequest{Node: "v1"}, &d); err != nil {
		t.Fatalf("node: %v", err)
	}
	if d.Status.State != events.NodeDown || len(d.Anomalies) != 1 || d.Heartbeat == nil || len(d.History) < 2 || d.History[len(d.History)-1].To != events.NodeDown {
		t.Fatalf("detail %+v", d)
	}

	var list events.AnomalyList
	if err := request(t, srv, events.VerbMonitorAnomalies, &events.AnomaliesRequest{Kind: events.KindNodeDown}, &list); err != nil || len(list.Anomalies) != 1 {
		t.Fatalf("anomalies %+v %v", list, err)
	}

	cases := []struct {
		name string
		verb string
		body any
		code events.ErrorCode
	}{
		{"unknown node", events.VerbMonitorNode, &events.NodeRequest{Node: "nope"}, events.CodeNotFound},
		{"missing node", events.VerbMonitorNode, map[string]any{}, events.CodeBadRequest},
		{"unknown field", events.VerbStatus, map[string]any{"stat": "down"}, events.CodeBadRequest},
		{"bad state", events.VerbStatus, map[string]any{"state": "sleepy"}, events.CodeBadRequest},
		{"bad target", events.VerbMonitorAnomalies, map[string]any{"target": "a.b"}, events.CodeBadRequest},
		{"not json", events.VerbMonitorAnomalies, json.RawMessage(`{`), events.CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw []byte
			if r, ok := c.body.(json.RawMessage); ok {
				raw = r
			} else {
				raw, _ = json.Marshal(c.body)
			}
			msg, err := srv.Conn().Request(events.ControlSubject(events.ServiceMonitor, c.verb), raw, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var ce *events.Error
			if err := events.DecodeReply(msg.Data, nil); !errors.As(err, &ce) || ce.Code != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
		})
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTP(t *testing.T) {
	srv := natstest.Start(t)
	svc, err := monitor.New(testConfig(t, srv, "m1"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	svc.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "dashboard") }))
	attached := make(chan bool, 1)
	svc.Attach(func(ctx context.Context, nc *nats.Conn) error {
		attached <- nc.IsConnected()
		<-ctx.Done()
		return nil
	})
	m := run(t, svc)
	if !<-attached {
		t.Fatal("attached part started without a connection")
	}
	nodes := fleetOf(t, srv, "w", 2, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)
	base := "http://" + m.Addr()

	cases := []struct {
		path string
		code int
		has  string
	}{
		{"/healthz", 200, `"ok":true`},
		{"/readyz", 200, `"ok":true`},
		{"/", 200, "dashboard"},
		{"/metrics", 200, `wsheal_monitor_detector_evaluations_total{scope="node"}`},
		{"/metrics", 200, `wsheal_monitor_detector_evaluations_total{scope="liveness"}`},
		{"/metrics", 200, `wsheal_monitor_nodes{state="healthy"} 2`},
		{"/metrics", 200, `wsheal_monitor_node_connections{node="w1"} 100`},
		{"/metrics", 200, `wsheal_monitor_events_total{type="io.wsheal.gateway.v1.heartbeat"}`},
		{"/api/fleet", 200, `"node":"w2"`},
		{"/sd/gateways", 200, `"labels":{"node":"w1"}`},
		{"/sd/gateways", 200, `"labels":{"node":"w2"}`},
		{"/api/fleet?state=bogus", 400, `bad_request`},
		{"/api/nodes/w1?history=1", 200, `"state":"healthy"`},
		{"/api/nodes/zz", 404, `not_found`},
		{"/api/anomalies", 200, `"anomalies":[]`},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			code, body := get(t, base+c.path)
			if code != c.code || !strings.Contains(body, c.has) {
				t.Fatalf("%d %s, want %d with %q", code, body, c.code, c.has)
			}
		})
	}
}

// The healer quarantines a node by writing its key in BucketDesired; the
// monitor shows it and raises nothing for it until the key is deleted.
func TestQuarantineFromDesiredState(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "q", 3, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	ctx := context.Background()
	kv, err := js.KeyValue(ctx, events.BucketDesired)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := json.Marshal(events.Quarantine{Node: "q1", Reason: "flapping", Since: time.Now()})
	if _, err := kv.Put(ctx, events.QuarantineKey("q1"), q); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return m.state("q1") == events.NodeQuarantined }, "q1 quarantined")
	nodes[0].Kill()
	nodes[1].Kill()
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "q2", events.AnomalyOpen) == 1
	}, "q2 down (the barrier)")
	if n := count(stored(t, js), events.KindNodeDown, "q1", ""); n != 0 {
		t.Fatalf("quarantined q1 raised node_down")
	}
	if err := kv.Delete(ctx, events.QuarantineKey("q1")); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "q1", events.AnomalyOpen) == 1
	}, "q1 judged again once the quarantine is lifted")
}

// Health snapshots with a stale spike make the node degraded with a
// stale_spike anomaly, cleared when the snapshots are good again.
func TestStaleSpikeDegradesNode(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	nodes := fleetOf(t, srv, "g", 2, func() string { return refusedURL(t) })
	allHealthy(t, m, nodes)

	nodes[0].SetHealth(func(h *events.Health) { h.Stale = 40 })
	natstest.Eventually(t, 10*time.Second, func() bool { return m.state("g1") == events.NodeDegraded }, "g1 degraded")
	natstest.Eventually(t, 5*time.Second, func() bool {
		return count(stored(t, js), events.KindStaleSpike, "g1", events.AnomalyOpen) == 1
	}, "stale_spike stored")
	a := firstOf(stored(t, js), events.KindStaleSpike, "g1")
	if a.Evidence.Metric != "stale_share" || a.Impact.Connections != 100 {
		t.Fatalf("stored %+v", a)
	}
	series := `wsheal_monitor_anomalies_raised_total{kind="stale_spike",severity="` + a.Severity + `"}`
	if metrics, err := service.Scrape(context.Background(), http.DefaultClient, "http://"+m.Addr()+"/metrics", ""); err != nil || metrics[series] != 1 {
		t.Fatalf("%s = %v (%v)", series, metrics[series], err)
	}
	nodes[0].SetHealth(nil)
	natstest.Eventually(t, 10*time.Second, func() bool {
		return count(stored(t, js), events.KindStaleSpike, "g1", events.AnomalyResolved) == 1 && m.state("g1") == events.NodeHealthy
	}, "stale spike resolved")
}
