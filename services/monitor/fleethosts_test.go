package monitor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestFleetHostsOwnNode: with the fleet hosts of the compose deployment's
// scaled gateways ({node}: a node is reached at its own name), a node
// whose URL names itself is believed (probed, listed for Prometheus), and
// one whose URL names another node is not.
func TestFleetHostsOwnNode(t *testing.T) {
	srv := natstest.Start(t)
	cfg := testConfig(t, srv, "m-hosts")
	cfg.FleetHosts = events.Hosts{"127.0.0.1", events.NodeHost}
	m := startMonitor(t, cfg)
	newTestNode(t, srv, "own", "ws://own:8080/ws", beat)
	newTestNode(t, srv, "forged", "ws://own:8080/ws", beat)
	natstest.Eventually(t, 10*time.Second, func() bool {
		return len(m.ScrapeTargets()) == 1 && m.ScrapeTargets()[0].Targets[0] == "own:8080"
	}, "only the node at its own name listed: %+v", m.ScrapeTargets())
	code, body := get(t, "http://"+m.Addr()+"/sd/gateways")
	if code != 200 || !strings.Contains(body, `"targets":["own:8080"]`) || strings.Contains(body, "forged") {
		t.Fatalf("/sd/gateways: %d %s", code, body)
	}
}
