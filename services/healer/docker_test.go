package healer_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nuid"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/executor/docker"
	"github.com/wsheal/wsheal/services/healer/executor/docker/dockertest"
)

// TestRestartFallsBackToTheDockerEngine: with no dev supervisor answering,
// restart (auto) finds the node's container by label and restarts it
// through the real engine.
func TestRestartFallsBackToTheDockerEngine(t *testing.T) {
	c := docker.New(docker.DefaultSocket, docker.DefaultLabel)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Skipf("no Docker engine answers on %s (%v): the restart through the engine is not tested here", docker.DefaultSocket, err)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: cannot build the test image")
	}
	tag := dockertest.Image(t, "./executor/docker/testdata/sleeper")
	node := "d" + strings.ToLower(nuid.Next()[:8])
	name := "wsheal-healer-test-" + node
	if out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", docker.DefaultLabel+"="+node, tag).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	before, err := c.Find(ctx, node)
	if err != nil {
		t.Fatal(err)
	}

	srv := natstest.Start(t)
	f := newPeers(t, srv) // the rest of the fleet, so the blast-radius cap allows a restart
	f.add("n2", 10, 100)
	f.add("n3", 10, 100)
	a := watchAudit(t, srv)
	cfg := testConfig(t, srv)
	cfg.Restart, cfg.DockerSocket = "auto", docker.DefaultSocket
	// The sleeper sends no heartbeats: the engine's answer is the proof here.
	cfg.Policies = writePolicies(t, "policies:\n  - name: down\n    kinds: [node_down]\n    actions:\n      - action: restart\n        verify: none\n        deadline: 30s\n")
	startHealer(t, cfg)
	newPublisher(t, srv).open(events.KindNodeDown, node, events.SeverityCritical)
	natstest.Eventually(t, 60*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "restarted through the engine")
	after, err := c.Find(ctx, node)
	if err != nil || !after.Started.After(before.Started) {
		t.Fatalf("the container did not restart: before %v after %v (%v)", before.Started, after.Started, err)
	}
	if d := a.find(events.ActionRestart, events.PhaseSucceeded, "")[0].Detail; !strings.Contains(d, "docker container") {
		t.Fatalf("the restart does not say it went through Docker: %s", d)
	}
}
