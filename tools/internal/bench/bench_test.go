package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
)

func nodeConfig(ns *natstest.Server, node string) gateway.Config {
	cfg := gatewaytest.Config(ns.URL(), node)
	cfg.HeartbeatInterval, cfg.HealthInterval = 200*time.Millisecond, time.Second
	return cfg
}

func startNode(t testing.TB, cfg gateway.Config) *gateway.Service {
	t.Helper()
	return gatewaytest.Start(t, cfg)
}

// syncBuffer is a progress writer safe to read while Run writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunNoLoss: a few hundred clients over two in-process gateways,
// spread over two source addresses, get every message once and in order;
// the report has its shape in JSON and as a table.
func TestRunNoLoss(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, nodeConfig(ns, "gw-a"))
	b := startNode(t, nodeConfig(ns, "gw-b"))
	var progress syncBuffer
	cfg := Config{
		URLs: []string{a.URL(), b.URL()}, Clients: 300, Channels: 6, Rate: 150,
		Duration: 2 * time.Second, Size: 200, DialRate: 1000,
		SourceAddrs: []string{"127.0.0.1", "127.0.0.2"},
	}
	rep, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	checkClean(t, rep, cfg)
	if !strings.Contains(progress.String(), "conns ") {
		t.Errorf("no progress line: %q", progress.String())
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	for _, k := range []string{"connections_held", "delivered_per_s", "latency_p50_ms", "latency_p99_ms",
		"latency_p999_ms", "sent", "expected_deliveries", "delivered", "lost", "duplicated",
		"out_of_order", "reconnects", "time_to_reconnect_p50_ms", "time_to_reconnect_max_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report JSON lacks %q: %s", k, raw)
		}
	}
	for _, k := range []string{"connections held", "lost", "latency p50/p99/p99.9/max", "time to reconnect"} {
		if !strings.Contains(rep.Table(), k) {
			t.Errorf("table lacks %q", k)
		}
	}
}

// TestRunSurvivesNodeKill: one of two gateways crashes mid-run; its
// clients reconnect to the other and the run still loses nothing.
func TestRunSurvivesNodeKill(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, nodeConfig(ns, "gw-a"))
	b := startNode(t, nodeConfig(ns, "gw-b"))
	cfg := Config{URLs: []string{a.URL(), b.URL()}, Clients: 200, Channels: 4, Rate: 100,
		Duration: 4 * time.Second, Size: 64, DialRate: 1000}
	var progress syncBuffer
	go func() {
		// Kill a once publishing has begun.
		deadline := time.Now().Add(30 * time.Second)
		for !publishing(progress.String()) {
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		a.Kill()
	}()
	rep, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	checkClean(t, rep, cfg)
	if rep.Reconnects == 0 || rep.ReconnectMaxMS <= 0 {
		t.Fatalf("no reconnects recorded after a node kill: %+v", rep)
	}
}

func checkClean(t *testing.T, rep *Report, cfg Config) {
	t.Helper()
	if rep.ConnectionsHeld != cfg.Clients || rep.ConnectFailures != 0 {
		t.Errorf("held %d of %d, %d failures: %v", rep.ConnectionsHeld, cfg.Clients, rep.ConnectFailures, rep.Errors)
	}
	if rep.Sent == 0 || rep.Expected != rep.Sent*uint64(cfg.Clients/cfg.Channels) {
		t.Errorf("sent %d, expected deliveries %d", rep.Sent, rep.Expected)
	}
	if rep.Lost != 0 || rep.Duplicated != 0 || rep.OutOfOrder != 0 || rep.Delivered != rep.Expected || rep.Gaps != 0 {
		t.Errorf("lost %d dup %d ooo %d gaps %d delivered %d of %d", rep.Lost, rep.Duplicated, rep.OutOfOrder, rep.Gaps, rep.Delivered, rep.Expected)
	}
	if rep.LatencyP50MS <= 0 || rep.LatencyP99MS < rep.LatencyP50MS || rep.LatencyP999MS < rep.LatencyP99MS {
		t.Errorf("latency quantiles %v %v %v", rep.LatencyP50MS, rep.LatencyP99MS, rep.LatencyP999MS)
	}
}

// publishing reports whether the last progress line shows messages sent.
func publishing(progress string) bool {
	lines := strings.Split(strings.TrimSpace(progress), "\n")
	last := lines[len(lines)-1]
	return strings.Contains(last, "sent ") && !strings.Contains(last, "sent 0 ")
}
