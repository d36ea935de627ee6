package monitor_test

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

var gatewayBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildGateway builds the real gateway binary once per test run.
func buildGateway(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	gatewayBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "wsheal-monitor-gw")
		if err != nil {
			gatewayBin.err = err
			return
		}
		gatewayBin.path = filepath.Join(dir, "gw")
		cmd := exec.Command("go", "build", "-o", gatewayBin.path, "./cmd/gateway")
		cmd.Dir = filepath.Join("..", "gateway")
		gatewayBin.out, gatewayBin.err = cmd.CombinedOutput()
	})
	if gatewayBin.err != nil {
		t.Fatalf("build gateway: %v\n%s", gatewayBin.err, gatewayBin.out)
	}
	return gatewayBin.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if gatewayBin.path != "" {
		_ = os.RemoveAll(filepath.Dir(gatewayBin.path))
	}
	os.Exit(code)
}

// gatewayProc is a real gateway process on 127.0.0.1.
type gatewayProc struct {
	t    *testing.T
	bin  string
	env  []string
	addr string
	cmd  *exec.Cmd
	logs bytes.Buffer
	mu   sync.Mutex
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startGateway(t *testing.T, srv *natstest.Server, node string) *gatewayProc {
	g := &gatewayProc{t: t, bin: buildGateway(t), addr: freeAddr(t)}
	g.env = append(os.Environ(),
		"WSHEAL_GATEWAY_NATS_URL="+srv.URL(),
		"WSHEAL_GATEWAY_NODE="+node,
		"WSHEAL_GATEWAY_LISTEN="+g.addr,
		"WSHEAL_GATEWAY_HEARTBEAT_INTERVAL="+beat.String(),
		"WSHEAL_GATEWAY_HEALTH_INTERVAL=500ms",
		"WSHEAL_GATEWAY_DRAIN_TIMEOUT=1s",
		"WSHEAL_GATEWAY_LOG_LEVEL=warn",
	)
	g.start()
	t.Cleanup(g.cleanup)
	return g
}

func (g *gatewayProc) start() {
	g.t.Helper()
	g.cmd = exec.Command(g.bin)
	g.cmd.Env = g.env
	g.cmd.Stdout, g.cmd.Stderr = &lockedWriter{g}, &lockedWriter{g}
	if err := g.cmd.Start(); err != nil {
		g.t.Fatalf("start gateway: %v", err)
	}
	natstest.Eventually(g.t, 15*time.Second, func() bool {
		resp, err := http.Get("http://" + g.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "gateway serving /healthz")
}

type lockedWriter struct{ g *gatewayProc }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	return w.g.logs.Write(p)
}

func (g *gatewayProc) signal(sig syscall.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatalf("signal %v: %v", sig, err)
	}
}

// kill9 kills the process outright and reaps it.
func (g *gatewayProc) kill9() {
	g.signal(syscall.SIGKILL)
	_ = g.cmd.Wait()
}

func (g *gatewayProc) cleanup() {
	if g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGCONT)
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
	if g.t.Failed() {
		g.mu.Lock()
		g.t.Logf("gateway output:\n%s", g.logs.String())
		g.mu.Unlock()
	}
}

// documented is the detection time the monitor documents for a silent
// node: DOWN_MISSES heartbeat intervals, a tick and the two probe checks.
func documented(t *testing.T, srv *natstest.Server) time.Duration {
	cfg := testConfig(t, srv, "doc")
	return time.Duration(cfg.DownMisses*float64(beat)) + cfg.Tick + 2*cfg.ProbeTimeout
}

// A real gateway killed with SIGKILL is node_down within the documented
// time, and resolved once it runs again.
func TestGatewayKilledIsDown(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	gw := startGateway(t, srv, "gw1")
	natstest.Eventually(t, 10*time.Second, func() bool { return m.state("gw1") == events.NodeHealthy }, "gw1 healthy")

	gw.kill9()
	killed := time.Now()
	// The detection time is a figure (logged below), not an assertion: a
	// loaded test machine may take longer than documented.
	natstest.Eventually(t, 30*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "gw1", events.AnomalyOpen) == 1
	}, "node_down for the killed gateway")
	a := firstOf(stored(t, js), events.KindNodeDown, "gw1")
	if a.DetectedAt.Before(killed) || a.ImpactStart.After(a.DetectedAt) {
		t.Fatalf("anomaly %+v (killed at %v)", a, killed)
	}
	t.Logf("node_down detected %v after the kill (documented %v)", a.DetectedAt.Sub(killed), documented(t, srv))

	gw.start()
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "gw1", events.AnomalyResolved) == 1
	}, "node_down resolved after the restart")
	if n := count(stored(t, js), events.KindNodeHung, "", ""); n != 0 {
		t.Fatalf("a crashed gateway was called hung")
	}
}

// A real gateway stopped with SIGSTOP is node_hung (its kernel still
// completes TCP handshakes) and resolved after SIGCONT.
func TestGatewayStoppedIsHung(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	gw := startGateway(t, srv, "gw1")
	natstest.Eventually(t, 10*time.Second, func() bool { return m.state("gw1") == events.NodeHealthy }, "gw1 healthy")

	gw.signal(syscall.SIGSTOP)
	stopped := time.Now()
	natstest.Eventually(t, 30*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeHung, "gw1", events.AnomalyOpen) == 1
	}, "node_hung for the stopped gateway")
	a := firstOf(stored(t, js), events.KindNodeHung, "gw1")
	t.Logf("node_hung detected %v after SIGSTOP: %s", a.DetectedAt.Sub(stopped), a.Evidence.Detail)
	if count(stored(t, js), events.KindNodeDown, "", "") != 0 {
		t.Fatalf("a stopped gateway was called down")
	}

	gw.signal(syscall.SIGCONT)
	natstest.Eventually(t, 15*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeHung, "gw1", events.AnomalyResolved) == 1
	}, "node_hung resolved after SIGCONT")
	natstest.Eventually(t, 5*time.Second, func() bool { return m.state("gw1") == events.NodeHealthy }, "gw1 healthy again")
}

// A real gateway stopped with SIGTERM announces its stop: no anomaly,
// while a gateway killed next to it (the barrier) is seen.
func TestGatewayCleanStopRaisesNothing(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	m := startMonitor(t, testConfig(t, srv, "m1"))
	gw1, gw2 := startGateway(t, srv, "gw1"), startGateway(t, srv, "gw2")
	natstest.Eventually(t, 10*time.Second, func() bool {
		return m.state("gw1") == events.NodeHealthy && m.state("gw2") == events.NodeHealthy
	}, "gateways healthy")

	gw1.signal(syscall.SIGTERM)
	if err := gw1.cmd.Wait(); err != nil {
		t.Fatalf("gateway did not stop cleanly: %v", err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return m.state("gw1") == events.NodeStopped }, "gw1 stopped")
	gw2.kill9()
	natstest.Eventually(t, 30*time.Second, func() bool {
		return count(stored(t, js), events.KindNodeDown, "gw2", events.AnomalyOpen) == 1
	}, "node_down for the killed gw2")
	for _, a := range stored(t, js) {
		if a.Target == "gw1" {
			t.Fatalf("a clean stop raised %+v", a)
		}
	}
}
