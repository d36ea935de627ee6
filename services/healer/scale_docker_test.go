package healer_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/embedded"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/executor/docker"
	"github.com/wsheal/wsheal/services/healer/executor/docker/dockertest"
)

// TestScaleOnDockerAddsAndRemovesAGateway: real gateways in containers
// beat to an embedded NATS server on the host. A fleet_saturated makes
// the healer clone the running replica through the Docker engine; the
// clone is a new node that beats healthy. A fleet_underused then drains
// the least loaded node (the newest) and stops and removes its container.
func TestScaleOnDockerAddsAndRemovesAGateway(t *testing.T) {
	c := docker.New(docker.DefaultSocket, docker.DefaultLabel)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Skipf("no Docker engine answers on %s (%v): the Docker scale is not tested here", docker.DefaultSocket, err)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: cannot build the gateway image")
	}
	tag := dockertest.Image(t, "github.com/wsheal/wsheal/services/gateway/cmd/gateway")
	// The containers reach the server through the host's bridge address.
	srv := natstest.Start(t, func(o *embedded.Options) { o.Host = "0.0.0.0" })
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	label := "io.wsheal.node.test-" + strings.ToLower(nuid.Next()[:8])
	name := "wsheal-healer-scale-" + strings.ToLower(nuid.Next()[:8]) + "_1"
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", label+"="+docker.HostnameValue,
		"--label", "com.docker.compose.container-number=1", "--add-host", "host.docker.internal:host-gateway",
		"-e", "WSHEAL_GATEWAY_NATS_URL=nats://host.docker.internal:"+port, "-e", "WSHEAL_GATEWAY_LISTEN=0.0.0.0:8080",
		"-e", "WSHEAL_GATEWAY_HEARTBEAT_INTERVAL=200ms", "-e", "WSHEAL_GATEWAY_LOG_LEVEL=warn", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", name).Run()
		// Whatever the healer started: every container of the test's label.
		ids, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+label).Output()
		for _, id := range strings.Fields(string(ids)) {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
	})
	c = docker.New(docker.DefaultSocket, label)
	first, err := c.Replicas(ctx)
	if err != nil || len(first) != 1 {
		t.Fatalf("replicas %+v, %v", first, err)
	}
	a := watchAudit(t, srv)
	beats := heartbeats(t, srv)
	natstest.Eventually(t, 60*time.Second, func() bool { return beats.seen(first[0].Node) }, "%s beats (logs: %s)", first[0].Node, logsOf(name))

	cfg := testConfig(t, srv)
	cfg.Restart, cfg.DockerSocket, cfg.DockerLabel, cfg.DockerGrace = "docker", docker.DefaultSocket, label, 5*time.Second
	cfg.DrainOver = time.Second
	cfg.Policies = writePolicies(t, strings.ReplaceAll(scalePolicies, "30s", "90s"))
	cfg.Scale.Min, cfg.Scale.Max, cfg.Scale.Cooldown, cfg.Scale.InCooldown = 1, 3, 0, 0
	startHealer(t, cfg)
	pub := newPublisher(t, srv)

	began := time.Now()
	pub.open(events.KindFleetSaturated, events.FleetTarget, events.SeverityWarning, first[0].Node)
	natstest.Eventually(t, 2*time.Minute, func() bool {
		return len(a.find(events.ActionScale, events.PhaseSucceeded, "")) == 1 || len(a.find(events.ActionEscalate, "", "")) > 0
	}, "scale-out done")
	ok := a.find(events.ActionScale, events.PhaseSucceeded, "")
	if len(ok) != 1 {
		t.Fatalf("the scale-out did not succeed")
	}
	t.Logf("scale-out: a new gateway healthy %s after the anomaly: %s", time.Since(began).Round(100*time.Millisecond), ok[0].Detail)
	two, err := c.Replicas(ctx)
	if err != nil || len(two) != 2 {
		t.Fatalf("replicas after the scale-out %+v, %v", two, err)
	}
	added := two[1]
	if added.Number != 2 || added.Node == first[0].Node || !strings.Contains(ok[0].Detail, "added node "+added.Node) || !beats.seen(added.Node) {
		t.Fatalf("added %+v: want number 2, a node of its own that beats, named in %q", added, ok[0].Detail)
	}

	began = time.Now()
	pub.open(events.KindFleetUnderused, events.FleetTarget, events.SeverityInfo, first[0].Node, added.Node)
	natstest.Eventually(t, 2*time.Minute, func() bool {
		return len(a.find(events.ActionScale, events.PhaseSucceeded, "")) == 2 || len(a.find(events.ActionEscalate, "", "")) > 0
	}, "scale-in done")
	ok = a.find(events.ActionScale, events.PhaseSucceeded, "")
	if len(ok) != 2 {
		t.Fatalf("the scale-in did not succeed")
	}
	t.Logf("scale-in: done %s after the anomaly: %s", time.Since(began).Round(100*time.Millisecond), ok[1].Detail)
	left, err := c.Replicas(ctx)
	if err != nil || len(left) != 1 || left[0].ID != first[0].ID {
		t.Fatalf("replicas after the scale-in %+v, %v: want the first one alone (the newest is the least loaded)", left, err)
	}
	if _, err := c.Inspect(ctx, added.ID); err == nil {
		t.Fatalf("the removed container %s is still there", added.Name)
	}
	req := a.find(events.ActionScale, events.PhaseRequested, "")
	if len(req) != 2 || !strings.Contains(req[1].Detail, "remove gateway node "+added.Node) {
		t.Fatalf("the scale-in's request does not name the node it removes: %+v", req)
	}
}

// seenNodes records the nodes heard beating.
type seenNodes struct {
	mu sync.Mutex
	m  map[string]bool
}

func heartbeats(t *testing.T, srv *natstest.Server) *seenNodes {
	s := &seenNodes{m: map[string]bool{}}
	sub, err := srv.Conn().Subscribe(events.HeartbeatsAll, func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if hb, ok := events.As[*events.Heartbeat](ev); err == nil && ok {
			s.mu.Lock()
			s.m[hb.Node] = true
			s.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return s
}

func (s *seenNodes) seen(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[node]
}

func logsOf(name string) string {
	out, _ := exec.Command("docker", "logs", "--tail", "20", name).CombinedOutput()
	return fmt.Sprintf("%q", out)
}
