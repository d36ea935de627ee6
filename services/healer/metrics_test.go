package healer_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads /metrics; nil when it does not answer 200.
func scrape(t *testing.T, base, token string) service.Series {
	t.Helper()
	m, err := service.Scrape(context.Background(), http.DefaultClient, base+"/metrics", token)
	if err != nil {
		t.Logf("scrape: %v", err)
	}
	return m
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsCountActionsVerifyTimeAndHolds(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	for _, id := range []string{"n1", "n2", "n3"} {
		f.add(id, 30, 1000)
	}
	a := watchAudit(t, srv)
	startSupervisor(t, srv, f, func(string) bool { return true })
	cfg := testConfig(t, srv)
	cfg.Listen, cfg.MetricsToken = freeAddr(t), "healer-metrics"
	base := "http://" + cfg.Listen
	startHealer(t, cfg)
	natstest.Eventually(t, 10*time.Second, func() bool { return status(t, base+"/readyz") == http.StatusOK }, "healer ready")
	if code := status(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	if _, err := service.Scrape(context.Background(), http.DefaultClient, base+"/metrics", ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("metrics without the token: %v, want 401", err)
	}

	mon := newPublisher(t, srv)
	f.kill("n1", true)
	f.waitSilent(t, testStale, "n1") // as the monitor would wait
	mon.open(events.KindNodeDown, "n1", events.SeverityCritical)
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "restart verified")

	var m service.Series
	natstest.Eventually(t, 10*time.Second, func() bool {
		m = scrape(t, base, cfg.MetricsToken)
		return m[`wsheal_healer_verify_seconds_count{action="restart",outcome="succeeded"}`] == 1
	}, "time to verify observed once")
	for series, want := range map[string]float64{
		`wsheal_healer_actions_total{action="restart",outcome="requested",reason=""}`: 1,
		`wsheal_healer_actions_total{action="restart",outcome="started",reason=""}`:   1,
		`wsheal_healer_actions_total{action="restart",outcome="succeeded",reason=""}`: 1,
		`wsheal_healer_paused`:                          0,
		`wsheal_healer_nats_connected`:                  1,
		`wsheal_healer_gate_holds_total{gate="paused"}`: 0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}

	// Paused: the gauge says so and the next anomaly is held at the pause gate.
	nc := natsConn(t, srv.URL())
	if err := request(t, nc, events.VerbHealerPause, events.HealerPauseCommand{ID: "metrics-pause", Reason: "metrics test"}, nil); err != nil {
		t.Fatal(err)
	}
	mon.open(events.KindNodeDown, "n2", events.SeverityCritical)
	natstest.Eventually(t, 10*time.Second, func() bool {
		m = scrape(t, base, cfg.MetricsToken)
		return m[`wsheal_healer_paused`] == 1 && m[`wsheal_healer_gate_holds_total{gate="paused"}`] >= 1
	}, "paused gauge and a hold at the pause gate")
}
