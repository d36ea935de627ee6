package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// served is a dashboard running against a NATS server behind an httptest
// server.
type served struct {
	d   *dashboard.Dashboard
	url string
	nc  *nats.Conn
}

// serve starts a dashboard on srv until the test ends.
func serve(t *testing.T, srv *natstest.Server) *served {
	t.Helper()
	nc := srv.Conn(nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	d := dashboard.New(dashboard.Config{Sample: 100 * time.Millisecond, Timeout: time.Second}, testLogger(t))
	hs := httptest.NewServer(d.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dashboard run: %v", err)
		}
		hs.Close()
	})
	natstest.Eventually(t, 10*time.Second, d.Live, "dashboard not live")
	return &served{d: d, url: hs.URL, nc: nc}
}

// publish sends an event the way a service does (core NATS).
func publish(t *testing.T, nc *nats.Conn, subject string, p events.Payload) {
	t.Helper()
	b, err := events.New(events.Source("test", "t1"), subject, p).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subject, b); err != nil {
		t.Fatal(err)
	}
}

func heartbeat(node string, conns int) *events.Heartbeat {
	return &events.Heartbeat{
		Node: node, URL: "ws://127.0.0.1:1/ws", Seq: 1, Connections: conns, Capacity: 1000,
		StartedAt: time.Now(), IntervalMS: 100, Version: "test",
	}
}

// get fetches path and decodes the JSON body into out; it returns the status.
func get(t *testing.T, base, path string, out any) int {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: decode: %v", path, err)
		}
	}
	return resp.StatusCode
}

func TestSnapshotKeepsHeartbeatsAndHealth(t *testing.T) {
	srv := natstest.Start(t)
	s := serve(t, srv)
	pub := srv.Conn()
	var snap dashboard.Snapshot
	natstest.Eventually(t, 5*time.Second, func() bool {
		publish(t, pub, events.HeartbeatSubject("gw-7"), heartbeat("gw-7", 42))
		publish(t, pub, events.HealthSubject("gw-7"), &events.Health{Node: "gw-7", IntervalMS: 100, RTT: events.RTT{P99: 12.5}, Stale: 3})
		snap = dashboard.Snapshot{}
		get(t, s.url, "/dash/snapshot", &snap)
		n := len(snap.Points)
		return n > 0 && snap.Points[n-1].N["gw-7"] == 42 && len(snap.Health["gw-7"]) > 0
	}, "snapshot holds gw-7's connections and health")
	if snap.Nodes[0] != "gw-7" || snap.Health["gw-7"][0].P99 != 12.5 || snap.Health["gw-7"][0].Stale != 3 {
		t.Fatalf("snapshot: %+v", snap)
	}
	if snap.Window != (10 * time.Minute).Milliseconds() {
		t.Fatalf("window %d", snap.Window)
	}
}

// TestMountedInTheMonitor wires the dashboard into a real monitor the way
// the monitor's binaries do (Handle + Attach) and reads the page and the
// monitor's fleet through the monitor's own HTTP server.
func TestMountedInTheMonitor(t *testing.T) {
	srv := natstest.Start(t)
	t.Setenv(monitor.EnvPrefix+"_NATS_URL", srv.URL())
	cfg, err := monitor.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Instance, cfg.Listen, cfg.Tick, cfg.Beat = "m1", "127.0.0.1:0", 20*time.Millisecond, 200*time.Millisecond
	mon, err := monitor.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	d := dashboard.New(dashboard.Config{Sample: 100 * time.Millisecond}, testLogger(t))
	mon.Handle("/", d.Handler())
	mon.Attach(d.Run)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mon.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("monitor run: %v", err)
		}
	})
	natstest.Eventually(t, 10*time.Second, func() bool { return mon.Addr() != "" }, "monitor listening")
	base := "http://" + mon.Addr()

	pub := srv.Conn()
	var fs events.FleetStatus
	natstest.Eventually(t, 10*time.Second, func() bool {
		publish(t, pub, events.HeartbeatSubject("gw-1"), heartbeat("gw-1", 5))
		fs = events.FleetStatus{}
		return get(t, base, "/dash/fleet", &fs) == http.StatusOK && len(fs.Nodes) == 1 && fs.Nodes[0].Connections == 5
	}, "the monitor's fleet shows gw-1 through /dash/fleet")
	if fs.Instance != "m1" || fs.Nodes[0].Node != "gw-1" {
		t.Fatalf("fleet: %+v", fs)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(dashboard.Marker) == "" {
		t.Fatalf("GET / on the monitor: %d, marker %q", resp.StatusCode, resp.Header.Get(dashboard.Marker))
	}
	var health map[string]any
	if code := get(t, base, "/healthz", &health); code != http.StatusOK {
		t.Fatalf("the monitor's /healthz is shadowed: %d %v", code, health)
	}

	// Connection analytics from the stored health snapshots.
	var ends events.ConnEnds
	ends.Add(90_000, 4, 9)
	publish(t, pub, events.HealthSubject("gw-1"), &events.Health{Node: "gw-1", IntervalMS: 5000,
		Ends: map[string]events.ConnEnds{events.CauseStale: ends}})
	var an dashboard.Analytics
	natstest.Eventually(t, 10*time.Second, func() bool {
		an = dashboard.Analytics{}
		return get(t, base, "/dash/analytics?since=5m", &an) == http.StatusOK && len(an.Rows) == 2
	}, "gw-1's stale close in /dash/analytics")
	if r := an.Rows[0]; r.Node != "gw-1" || r.Cause != events.CauseStale || !r.Failure || r.Closes != 1 || r.MeanS != 90 || r.InPer != 4 {
		t.Fatalf("analytics row %+v", r)
	}
	if code := get(t, base, "/dash/analytics?since=30d", nil); code != http.StatusBadRequest {
		t.Fatalf("since=30d: %d, want 400", code)
	}
}

func TestErrorsSayWhatIsMissing(t *testing.T) {
	srv := natstest.Start(t)
	s := serve(t, srv)
	idle := httptest.NewServer(dashboard.New(dashboard.Config{}, testLogger(t)).Handler())
	defer idle.Close()
	cases := []struct {
		name, base, path string
		code             int
		want             string
	}{
		{"no monitor", s.url, "/dash/fleet", http.StatusBadGateway, "wsheal.ctl.monitor.status: is it running?"},
		{"no notifier", s.url, "/dash/incidents", http.StatusBadGateway, "wsheal.ctl.notifier.list"},
		{"bad state", s.url, "/dash/incidents?state=weird", http.StatusBadRequest, "state"},
		{"bad incident id", s.url, "/dash/incidents/a*b", http.StatusBadRequest, "incident"},
		{"before Run", idle.URL, "/dash/fleet", http.StatusServiceUnavailable, "not connected to NATS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body struct{ Error string }
			if code := get(t, c.base, c.path, &body); code != c.code || !strings.Contains(body.Error, c.want) {
				t.Fatalf("%s: %d %q, want %d with %q", c.path, code, body.Error, c.code, c.want)
			}
		})
	}
	var hv dashboard.HealerView
	get(t, s.url, "/dash/healer", &hv)
	if hv.Status != nil || !strings.Contains(hv.StatusError, "healer") || !strings.Contains(hv.ActionsError, "healer") {
		t.Fatalf("healer view without a healer: %+v", hv)
	}
}

func TestPageAndAssetsAreEmbedded(t *testing.T) {
	srv := natstest.Start(t)
	s := serve(t, srv)
	for _, c := range []struct{ path, ctype, want string }{
		{"/", "text/html", "data-wsheal-dashboard"},
		{"/assets/app.js", "javascript", "EventSource"},
		{"/assets/app.css", "text/css", "--healthy"},
	} {
		t.Run(c.path, func(t *testing.T) {
			resp, err := http.Get(s.url + c.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var sb strings.Builder
			_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(sb.String(), c.want) {
				t.Fatalf("%s: %d %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	}
	if resp, err := http.Get(s.url + "/"); err != nil || resp.Header.Get(dashboard.Marker) == "" {
		t.Fatalf("no %s header: %v", dashboard.Marker, err)
	}
}

// sse reads one stream's frames into a channel of (event, data).
type frame struct{ event, data string }

func openStream(t *testing.T, ctx context.Context, url string) <-chan frame {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/dash/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	out := make(chan frame, 1024)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.event != "" {
					out <- f
				}
				f = frame{}
			case strings.HasPrefix(line, "event: "):
				f.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				f.data = line[len("data: "):]
			}
		}
	}()
	return out
}

// waitFrame reads frames until match accepts one.
func waitFrame(t *testing.T, frames <-chan frame, timeout time.Duration, match func(frame) bool) frame {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("stream closed")
			}
			if match(f) {
				return f
			}
		case <-deadline:
			t.Fatal("no matching frame before the deadline")
		}
	}
}

func TestStreamDeliversAnAnomalyAndTicks(t *testing.T) {
	srv := natstest.Start(t)
	s := serve(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	frames := openStream(t, ctx, s.url)
	waitFrame(t, frames, 5*time.Second, func(f frame) bool { return f.event == "hello" })
	tick := waitFrame(t, frames, 5*time.Second, func(f frame) bool { return f.event == "tick" })
	if !strings.Contains(tick.data, `"nats":true`) || !strings.Contains(tick.data, "is it running?") {
		t.Fatalf("tick without NATS state or monitor error: %s", tick.data)
	}
	a := &events.Anomaly{
		ID: "node_down-gw-3-1", Kind: events.KindNodeDown, State: events.AnomalyOpen, Target: "gw-3",
		Severity: events.SeverityCritical, Summary: "gw-3 missed 3 heartbeats", DetectedAt: time.Now(),
	}
	publish(t, srv.Conn(), events.AnomalySubject(a.Kind, a.Target), a)
	f := waitFrame(t, frames, 5*time.Second, func(f frame) bool { return f.event == "feed" })
	var it dashboard.Item
	if err := json.Unmarshal([]byte(f.data), &it); err != nil {
		t.Fatal(err)
	}
	if it.Kind != "anomaly" || it.Level != events.SeverityCritical || it.Target != "gw-3" || !strings.Contains(it.Text, "missed 3 heartbeats") {
		t.Fatalf("feed item: %+v", it)
	}
}

func TestNATSLossIsShown(t *testing.T) {
	srv := natstest.Start(t)
	s := serve(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	frames := openStream(t, ctx, s.url)
	waitFrame(t, frames, 5*time.Second, func(f frame) bool { return f.event == "tick" && strings.Contains(f.data, `"nats":true`) })
	srv.Stop()
	waitFrame(t, frames, 10*time.Second, func(f frame) bool { return f.event == "tick" && strings.Contains(f.data, `"nats":false`) })
	var body struct{ Error string }
	if code := get(t, s.url, "/dash/fleet", &body); code != http.StatusServiceUnavailable || !strings.Contains(body.Error, "NATS") {
		t.Fatalf("fleet without NATS: %d %q", code, body.Error)
	}
	srv.Restart()
	waitFrame(t, frames, 10*time.Second, func(f frame) bool { return f.event == "tick" && strings.Contains(f.data, `"nats":true`) })
}

func TestRunNeedsAConnection(t *testing.T) {
	err := dashboard.New(dashboard.Config{}, testLogger(t)).Run(context.Background(), nil)
	if !errors.Is(err, dashboard.ErrRun) || !errors.Is(err, dashboard.ErrNoNATS) {
		t.Fatalf("Run(nil): %v", err)
	}
}
