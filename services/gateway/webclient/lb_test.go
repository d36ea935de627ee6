//go:build unix

package webclient_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
)

// lbConfig is the load balancer's configuration for a fixed list of
// nodes, run here as is; lbScaled is the compose stack's, which finds its
// scaled gateways by DNS (the compose tests run it).
var (
	lbConfig = filepath.Join("..", "..", "..", "deploy", "compose", "lb", "haproxy-static.cfg")
	lbScaled = filepath.Join("..", "..", "..", "deploy", "compose", "lb", "haproxy.cfg")
)

// fleet is three gateways behind a real HAProxy on loopback, each node
// advertising its route through the balancer (ws://lb/gw-N/ws).
type fleet struct {
	ns    *natstest.Server
	lb    string // http://127.0.0.1:port
	nodes map[string]*gateway.Service
}

// freePort reserves a loopback port and gives it back for a process to take.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// startFleet runs NATS, three gateways that let pageOrigin in, and HAProxy.
func startFleet(t *testing.T, haproxy, pageOrigin string) *fleet {
	t.Helper()
	f := &fleet{ns: natstest.Start(t), nodes: map[string]*gateway.Service{}}
	lbPort := freePort(t)
	f.lb = "http://127.0.0.1:" + strconv.Itoa(lbPort)
	env := append(os.Environ(), "WSHEAL_LB_BIND=127.0.0.1:"+strconv.Itoa(lbPort))
	for i := 1; i <= 3; i++ {
		name := "gw-" + strconv.Itoa(i)
		cfg := gatewaytest.Config(f.ns.URL(), name)
		cfg.Listen = "127.0.0.1:" + strconv.Itoa(freePort(t))
		cfg.PublicURL = fmt.Sprintf("ws://127.0.0.1:%d/%s/ws", lbPort, name)
		cfg.CORSOrigins, cfg.AllowedOrigins = []string{pageOrigin}, pageOrigin
		cfg.DrainOver, cfg.DrainTimeout = 2*time.Second, 5*time.Second
		f.nodes[name] = gatewaytest.Start(t, cfg)
		env = append(env, fmt.Sprintf("WSHEAL_LB_GW%d=%s", i, cfg.Listen))
	}
	cmd := exec.Command(haproxy, "-db", "-f", lbConfig)
	cmd.Env = env
	logPath := filepath.Join(t.TempDir(), "haproxy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- haproxy log (last 8 KiB) ---\n%s", b[max(0, len(b)-8192):])
		}
	})
	// Ready once every node is in the fleet backend's rotation: discovery
	// through the balancer answers for each of them.
	seen := map[string]bool{}
	natstest.Eventually(t, 20*time.Second, func() bool {
		for n := range f.nodes {
			if resp, err := http.Get(f.lb + "/" + n + "/readyz"); err == nil {
				if resp.StatusCode == 200 {
					seen[n] = true
				}
				_ = resp.Body.Close()
			}
		}
		return len(seen) == 3
	}, "haproxy: routes ready for %v only", seen)
	natstest.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get(f.lb + "/v1/connect")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	}, "discovery through the balancer")
	return f
}

// haproxyPath finds Debian's haproxy binary.
func haproxyPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("WSHEAL_HAPROXY"), "haproxy", "/usr/sbin/haproxy"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("\n\n*** SKIPPED: no haproxy binary (tried $WSHEAL_HAPROXY, haproxy, /usr/sbin/haproxy): the browser test through the load balancer did NOT run.\n" +
		"*** Install it: apt-get install -y haproxy (make test does when it can)\n")
	return ""
}

// TestHAProxyConfig checks both load balancer configurations with haproxy -c.
func TestHAProxyConfig(t *testing.T) {
	haproxy := haproxyPath(t)
	for file, env := range map[string][]string{
		lbConfig: {"WSHEAL_LB_BIND=127.0.0.1:1", "WSHEAL_LB_GW1=127.0.0.1:2", "WSHEAL_LB_GW2=127.0.0.1:3", "WSHEAL_LB_GW3=127.0.0.1:4"},
		lbScaled: {"WSHEAL_LB_BIND=127.0.0.1:1", "WSHEAL_LB_GATEWAYS=localhost:2", "WSHEAL_LB_GATEWAY_PORT=2"},
	} {
		cmd := exec.Command(haproxy, "-c", "-f", file)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("haproxy -c %s: %v\n%s", file, err, out)
		}
	}
}
