package docker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nuid"

	"github.com/wsheal/wsheal/services/healer/executor/docker"
	"github.com/wsheal/wsheal/services/healer/executor/docker/dockertest"
)

// engine returns a client of the local engine, or skips the test.
func engine(t *testing.T) *docker.Client {
	t.Helper()
	socket := os.Getenv("DOCKER_SOCKET")
	if socket == "" {
		socket = docker.DefaultSocket
	}
	c := docker.New(socket, docker.DefaultLabel)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Skipf("no Docker engine answers on %s (%v): the Docker executor is not tested here", socket, err)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: cannot build the test image")
	}
	return c
}

// image builds a FROM scratch image of the sleeper.
func image(t *testing.T) string { return dockertest.Image(t, "./testdata/sleeper") }

func TestRestartNodeAgainstTheEngine(t *testing.T) {
	c := engine(t)
	tag := image(t)
	node := "n-" + strings.ToLower(nuid.Next()[:8])
	name := "wsheal-healer-test-" + node
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", docker.DefaultLabel+"="+node, tag).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before, err := c.Find(ctx, node)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if !before.Running || before.Started.IsZero() {
		t.Fatalf("container not running: %+v", before)
	}
	after, err := c.RestartNode(ctx, node, before.Started.Add(time.Millisecond), 5*time.Second)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if !after.Started.After(before.Started) || !after.Running {
		t.Fatalf("StartedAt did not move: before %v after %v", before.Started, after.Started)
	}
	// The same attempt replayed (a replica taking over) does not restart again.
	again, err := c.RestartNode(ctx, node, after.Started.Add(-time.Millisecond), 5*time.Second)
	if err != nil {
		t.Fatalf("replayed restart: %v", err)
	}
	if !again.Started.Equal(after.Started) {
		t.Fatalf("a replayed attempt restarted again: %v then %v", after.Started, again.Started)
	}
}

func TestRestartPausedContainer(t *testing.T) {
	c := engine(t)
	tag := image(t)
	node := "n-" + strings.ToLower(nuid.Next()[:8])
	name := "wsheal-healer-test-" + node
	if out, err := exec.Command("docker", "run", "-d", "--name", name, "--label", docker.DefaultLabel+"="+node, tag).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	if out, err := exec.Command("docker", "pause", name).CombinedOutput(); err != nil {
		t.Fatalf("docker pause: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before, err := c.Find(ctx, node)
	if err != nil || !before.Paused {
		t.Fatalf("not paused: %+v %v", before, err)
	}
	after, err := c.RestartNode(ctx, node, time.Now(), 2*time.Second)
	if err != nil {
		t.Fatalf("restart of a hung (paused) node: %v", err)
	}
	if after.Paused || !after.Running || !after.Started.After(before.Started) {
		t.Fatalf("not restarted: before %+v after %+v", before, after)
	}
}

func TestFindUnknownNode(t *testing.T) {
	c := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Find(ctx, "no-such-node-"+nuid.Next())
	if !errors.Is(err, docker.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestNoEngineIsAClearError(t *testing.T) {
	c := docker.New(filepath.Join(t.TempDir(), "none.sock"), docker.DefaultLabel)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Find(ctx, "n1")
	if !errors.Is(err, docker.ErrEngine) {
		t.Fatalf("want ErrEngine, got %v", err)
	}
	fmt.Fprintln(os.Stderr, "no-engine error reads:", err)
}

// TestFindScaledReplicaByHostname: replicas of one scaled service share a
// label value (@hostname); each is found by its own host name, the node id
// its gateway takes, whether that is the default (the id's first 12 hex
// digits) or set by hand, and restarting one leaves the other alone.
func TestFindScaledReplicaByHostname(t *testing.T) {
	c := engine(t)
	tag := image(t)
	label := docker.DefaultLabel + "=" + docker.HostnameValue
	prefix := "wsheal-healer-test-" + strings.ToLower(nuid.Next()[:8])
	var ids []string
	for i, args := range [][]string{nil, nil, {"--hostname", "gw-by-hand-" + prefix[len(prefix)-8:]}} {
		name := fmt.Sprintf("%s-%d", prefix, i)
		out, err := exec.Command("docker", append(append([]string{"run", "-d", "--name", name, "--label", label}, args...), tag)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker run: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
		ids = append(ids, strings.TrimSpace(string(out)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, node := range []string{ids[0][:12], ids[1][:12], "gw-by-hand-" + prefix[len(prefix)-8:]} {
		ct, err := c.Find(ctx, node)
		if err != nil {
			t.Fatalf("find %s: %v", node, err)
		}
		if ct.ID != ids[i] || ct.Hostname != node {
			t.Fatalf("node %s: found %s (host name %s), want %s", node, ct.ID, ct.Hostname, ids[i])
		}
	}
	other, _ := c.Find(ctx, ids[1][:12])
	before, _ := c.Find(ctx, ids[0][:12])
	after, err := c.RestartNode(ctx, ids[0][:12], time.Now(), 2*time.Second)
	if err != nil || !after.Started.After(before.Started) {
		t.Fatalf("restart of a scaled replica: %v (started %v, before %v)", err, after.Started, before.Started)
	}
	if still, _ := c.Find(ctx, ids[1][:12]); !still.Started.Equal(other.Started) {
		t.Fatalf("restarting one replica restarted another: %v then %v", other.Started, still.Started)
	}
	// A replica's id prefix that is not its host name is no match.
	if _, err := c.Find(ctx, ids[2][:12]); !errors.Is(err, docker.ErrNotFound) {
		t.Fatalf("found a replica by an id whose host name was set by hand: %v", err)
	}
}

// TestCloneReplica: a clone of a compose-style replica runs the same
// image and configuration on the same network, answers to the service's
// alias, gets the next number and name and a host name of its own (so a
// gateway in it is a new node), and is listed with the original; Stop and
// Remove take it away again.
func TestCloneReplica(t *testing.T) {
	c := engine(t)
	tag := image(t)
	suffix := strings.ToLower(nuid.Next()[:8])
	label := "io.wsheal.node.test-" + suffix
	network := "wsheal-healer-test-" + suffix
	if out, err := exec.Command("docker", "network", "create", network).CombinedOutput(); err != nil {
		t.Fatalf("docker network create: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", network).Run() })
	name := "wsheal-healer-test_" + suffix + "_1"
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--network", network, "--network-alias", "gateway",
		"--label", label+"="+docker.HostnameValue, "--label", "com.docker.compose.container-number=1",
		"--label", "com.docker.compose.service=gateway", "-e", "WSHEAL_TEST=kept", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	c = docker.New(c.Socket(), label)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before, err := c.Replicas(ctx)
	if err != nil || len(before) != 1 {
		t.Fatalf("replicas %+v, %v: want the one started", before, err)
	}
	orig := before[0]
	if orig.Node != orig.Hostname || orig.Number != 1 || orig.Image != tag {
		t.Fatalf("replica %+v: want its host name as node, number 1, image %s", orig, tag)
	}
	clone, err := c.Clone(ctx, orig, "", before)
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", clone.ID).Run() })
	if !clone.Running || clone.Number != 2 || clone.Name != "/wsheal-healer-test_"+suffix+"_2" || clone.ImageID != orig.ImageID {
		t.Fatalf("clone %+v: want running, number 2, the next name, the same image", clone)
	}
	if clone.Node == orig.Node || !strings.HasPrefix(clone.ID, clone.Node) {
		t.Fatalf("clone's node %q (id %s): want its own id as host name, not %q", clone.Node, clone.ID, orig.Node)
	}
	env := output(t, "docker", "inspect", "-f", "{{range .Config.Env}}{{.}} {{end}}", clone.ID)
	nets := output(t, "docker", "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.Aliases}} {{end}}", clone.ID)
	if !strings.Contains(env, "WSHEAL_TEST=kept") || !strings.Contains(nets, network+"=") || !strings.Contains(nets, "gateway") {
		t.Fatalf("clone env %q, networks %q: want the original's", env, nets)
	}
	all, err := c.Replicas(ctx)
	if err != nil || len(all) != 2 || all[1].ID != clone.ID {
		t.Fatalf("replicas after the clone %+v, %v", all, err)
	}
	if err := c.Stop(ctx, clone.ID, time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := c.Stop(ctx, clone.ID, time.Second); err != nil {
		t.Fatalf("stop of a stopped container: %v", err)
	}
	if err := c.Remove(ctx, clone.ID); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := c.Inspect(ctx, clone.ID); !errors.Is(err, docker.ErrNotFound) {
		t.Fatalf("removed clone still inspects: %v", err)
	}
	if id, err := c.ImageID(ctx, tag); err != nil || id != orig.ImageID {
		t.Fatalf("image id of %s: %q, %v; want %q", tag, id, err, orig.ImageID)
	}
}

// output runs a command and returns its trimmed output.
func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}
