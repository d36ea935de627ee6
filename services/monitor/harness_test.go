package monitor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor"
)

// beat is the heartbeat interval of the test nodes and gateways: down
// after 3 beats.
const beat = 200 * time.Millisecond

// testConfig is the default config with short intervals.
func testConfig(t testing.TB, srv *natstest.Server, instance string) monitor.Config {
	t.Helper()
	t.Setenv(monitor.EnvPrefix+"_NATS_URL", srv.URL())
	cfg, err := monitor.ConfigFromEnv()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Instance = instance
	cfg.Listen = "127.0.0.1:0"
	cfg.Tick = 20 * time.Millisecond
	cfg.FleetEvery = 200 * time.Millisecond
	cfg.Beat = 200 * time.Millisecond
	cfg.ProbeTimeout = 300 * time.Millisecond
	return cfg
}

type runningMonitor struct {
	*monitor.Service
	cancel context.CancelFunc
	done   chan error
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Timestamp().Logger()
}

// startMonitor runs a monitor until the test ends (or Stop).
func startMonitor(t testing.TB, cfg monitor.Config) *runningMonitor {
	t.Helper()
	svc, err := monitor.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("new monitor: %v", err)
	}
	return run(t, svc)
}

// run runs svc until the test ends (or Stop).
func run(t testing.TB, svc *monitor.Service) *runningMonitor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &runningMonitor{Service: svc, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- svc.Run(ctx) }()
	t.Cleanup(func() { m.Stop(t) })
	natstest.Eventually(t, 10*time.Second, func() bool { ok, _ := svc.Healthy(); return ok }, "monitor %s healthy", svc.Instance())
	return m
}

// Stop ends Run and checks it returned nil.
func (m *runningMonitor) Stop(t testing.TB) {
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case err := <-m.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("monitor run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("monitor did not stop")
	}
}

// state is a node's state in m's fleet view ("" if unknown).
func (m *runningMonitor) state(node string) string {
	for _, n := range m.FleetStatus("").Nodes {
		if n.Node == node {
			return n.State
		}
	}
	return ""
}

// fleetOf starts n test nodes named prefix-1..n, all beating.
func fleetOf(t testing.TB, srv *natstest.Server, prefix string, n int, url func() string) []*testNode {
	out := make([]*testNode, n)
	for i := range out {
		out[i] = newTestNode(t, srv, prefix+string(rune('1'+i)), url(), beat)
	}
	return out
}

// allHealthy waits until m sees every node healthy.
func allHealthy(t testing.TB, m *runningMonitor, nodes []*testNode) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, func() bool {
		for _, n := range nodes {
			if m.state(n.id) != events.NodeHealthy {
				return false
			}
		}
		return true
	}, "every node healthy")
}
