package compose

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// stack is one compose project of the deployment, started for a test
// under its own name, on free loopback ports, and removed by t.Cleanup.
type stack struct {
	t       *testing.T
	compose []string // the compose command: docker compose, or docker-compose
	project string
	base    []string       // environment of every command
	env     []string       // base and the ports
	ports   map[string]int // variable -> host port
	files   []string       // compose files over docker-compose.yml
}

// portVars are the compose file's host port variables.
var portVars = []string{
	"WSHEAL_NATS1_PORT", "WSHEAL_NATS2_PORT", "WSHEAL_NATS3_PORT", "WSHEAL_NATS_HTTP_PORT",
	"WSHEAL_MONITOR_PORT", "WSHEAL_RECEIVER_PORT",
	"WSHEAL_MONITOR2_PORT",
	"WSHEAL_LB_PORT", "WSHEAL_PROMETHEUS_PORT", "WSHEAL_ALERTMANAGER_PORT",
}

// composeCommand finds docker compose v2 or docker-compose; it skips the
// test loudly when there is no Docker engine or no compose tool.
func composeCommand(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		t.Skipf("SKIP compose e2e: no Docker engine (docker version: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	t.Skip("SKIP compose e2e: a Docker engine answers but neither `docker compose` nor docker-compose is installed")
	return nil
}

// pickPorts chooses a free loopback port for every port variable, below
// the kernel's ephemeral range (32768 and up) so that outgoing
// connections of other processes do not take them before compose binds.
func (s *stack) pickPorts() {
	taken := map[int]bool{}
	for _, v := range portVars {
		for {
			p := 20000 + rand.IntN(12000)
			if taken[p] {
				continue
			}
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				continue
			}
			_ = l.Close()
			taken[p] = true
			s.ports[v] = p
			break
		}
	}
	env := slices.Clone(s.base)
	for _, v := range portVars {
		env = append(env, v+"="+strconv.Itoa(s.ports[v]))
	}
	s.env = env
}

// newStack names a project; nothing runs yet.
func newStack(t *testing.T, compose []string) *stack {
	project := fmt.Sprintf("wsheal-e2e-%d-%d", os.Getpid(), time.Now().Unix()%100000)
	s := &stack{t: t, compose: compose, project: project, ports: map[string]int{}}
	s.base = append(os.Environ(),
		"WSHEAL_TAG="+project,
		"WSHEAL_IMAGE_CTX="+t.TempDir(),
		"WSHEAL_NODE_LABEL=io.wsheal.node."+project,
		"WSHEAL_DOCKER_GID="+dockerGID(),
		"WSHEAL_LOG_LEVEL=debug",
	)
	s.env = s.base
	return s
}

// dockerGID is the group of the engine's socket, for the healer (GNU
// stat, then BSD stat; 0 when neither tells).
func dockerGID() string {
	for _, args := range [][]string{{"-c", "%g"}, {"-f", "%g"}} {
		out, err := exec.Command("stat", append(args, "/var/run/docker.sock")...).Output()
		if gid := strings.TrimSpace(string(out)); err == nil && gid != "" {
			if _, err := strconv.Atoi(gid); err == nil {
				return gid
			}
		}
	}
	return "0"
}

// run runs a command in this directory with the stack's environment and
// returns its combined output.
func (s *stack) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// dc runs a compose command on the project.
func (s *stack) dc(ctx context.Context, args ...string) (string, error) {
	full := append(slices.Clone(s.compose[1:]), "-p", s.project, "-f", "docker-compose.yml")
	for _, f := range s.files {
		full = append(full, "-f", f)
	}
	full = append(full, args...)
	return s.run(ctx, s.compose[0], full...)
}

// build makes the images under the project's own tag (removed at
// cleanup) and the secrets, through the Makefile as a user would.
func (s *stack) build(ctx context.Context) {
	t := s.t
	out, err := s.run(ctx, "make", "-C", "../..", "images", "secrets")
	t.Cleanup(func() {
		for _, img := range []string{"wsheal", "wsheal-tools", "wsheal-nats", "wsheal-lb"} {
			_, _ = s.run(context.Background(), "docker", "rmi", img+":"+s.project)
		}
	})
	if err != nil {
		t.Fatalf("make images secrets: %v\n%s", err, out)
	}
}

// up starts the stack, removes it at cleanup (dumping logs if the test
// failed), and waits until every container is healthy.
func (s *stack) up(ctx context.Context) {
	t := s.t
	t.Cleanup(s.down)
	for attempt := 1; ; attempt++ {
		s.pickPorts()
		t.Logf("starting compose project %s, ports %v", s.project, s.ports)
		out, err := s.dc(ctx, "up", "-d")
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(out+err.Error(), "address already in use") {
			t.Fatalf("compose up: %v\n%s", err, out)
		}
		t.Logf("a port was taken meanwhile; starting again on others")
		if out, err := s.dc(ctx, "down", "-v", "-t", "1"); err != nil {
			t.Fatalf("compose down: %v\n%s", err, out)
		}
	}
	out, err := s.run(ctx, "./wait-healthy.sh", s.project, "240")
	if err != nil {
		t.Fatalf("stack not healthy: %v", err)
	}
	t.Log(strings.TrimSpace(lastLine(out)))
}

// down removes the project, volumes included; with a failed test it first
// logs the tail of every container's log.
func (s *stack) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if s.t.Failed() {
		out, _ := s.dc(ctx, "logs", "--no-color", "--tail", "40")
		s.t.Logf("logs of %s:\n%s", s.project, out)
	}
	if out, err := s.dc(ctx, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		s.t.Errorf("compose down: %v\n%s", err, out)
	}
}

// container is the container name of a compose service.
func (s *stack) container(ctx context.Context, service string) string {
	out, err := s.dc(ctx, "ps", "-q", service)
	id := strings.TrimSpace(out)
	if err != nil || id == "" {
		s.t.Fatalf("no container for %s: %v", service, err)
	}
	return strings.Fields(id)[0]
}

// gatewayReplica is one container of the scaled gateway service: its node
// id is its host name.
type gatewayReplica struct {
	node, id string
}

func (g gatewayReplica) String() string { return g.node }

// gateways lists the running replicas of the gateway service, in the
// order compose numbered them.
func (s *stack) gateways(ctx context.Context) []gatewayReplica {
	out, err := s.run(ctx, "docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+s.project,
		"--filter", "label=com.docker.compose.service=gateway")
	if err != nil {
		s.t.Fatal(err)
	}
	type row struct {
		n int
		g gatewayReplica
	}
	var rows []row
	for _, id := range strings.Fields(out) {
		f := strings.Fields(s.inspect(ctx, id, `{{.Config.Hostname}} {{index .Config.Labels "com.docker.compose.container-number"}}`))
		if len(f) != 2 {
			s.t.Fatalf("gateway container %s: host name and number %v", id, f)
		}
		n, _ := strconv.Atoi(f[1])
		rows = append(rows, row{n, gatewayReplica{node: f[0], id: id}})
	}
	slices.SortFunc(rows, func(a, b row) int { return a.n - b.n })
	gws := make([]gatewayReplica, len(rows))
	for i, r := range rows {
		gws[i] = r.g
	}
	return gws
}

// nodeURL is a node's route through the load balancer (path: /healthz, ...).
func (s *stack) nodeURL(node, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d/node/%s%s", s.ports["WSHEAL_LB_PORT"], node, path)
}

// docker runs a docker command and fails the test if it fails.
func (s *stack) docker(ctx context.Context, args ...string) string {
	out, err := s.run(ctx, "docker", args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// inspect formats a container's state with a Go template.
func (s *stack) inspect(ctx context.Context, id, format string) string {
	return s.docker(ctx, "inspect", "-f", format, id)
}

// operator connects to the cluster as the operator user, through the
// three published NATS ports.
func (s *stack) operator() *nats.Conn {
	env, err := readEnvFile(filepath.Join("secrets", "operator.env"))
	if err != nil {
		s.t.Fatal(err)
	}
	var urls []string
	for _, v := range []string{"WSHEAL_NATS1_PORT", "WSHEAL_NATS2_PORT", "WSHEAL_NATS3_PORT"} {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", s.ports[v]))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo(env["NATS_USER"], env["NATS_PASSWORD"]),
		nats.Name("wsheal-e2e"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		s.t.Fatalf("operator connection: %v", err)
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// entry is how the clients reach the fleet: through the load balancer,
// discovery first, the balancer's WebSocket endpoint as the fallback.
// Reconnect hints name the nodes' routes through it.
func (s *stack) entry() endpoint {
	lb := fmt.Sprintf("127.0.0.1:%d", s.ports["WSHEAL_LB_PORT"])
	return endpoint{URLs: []string{"ws://" + lb + "/ws"}, Discovery: "http://" + lb + "/v1/connect"}
}

// violations are the permission violations the NATS servers logged.
func (s *stack) violations(ctx context.Context) []string {
	var out []string
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		logs, _ := s.run(ctx, "docker", "logs", s.container(ctx, n))
		sc := bufio.NewScanner(strings.NewReader(logs))
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Permissions Violation") {
				out = append(out, n+": "+sc.Text())
			}
		}
	}
	return out
}

func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
