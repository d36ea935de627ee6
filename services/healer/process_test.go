package healer_test

import (
	"fmt"
	"net"
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

// procFleet runs gateway nodes as real processes of the gateway binary.
type procFleet struct {
	t     *testing.T
	bin   string
	nats  string
	mu    sync.Mutex
	ports map[string]int
	procs map[string]*exec.Cmd
}

func buildGateway(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "gateway")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wsheal/wsheal/services/gateway/cmd/gateway").CombinedOutput()
	if err != nil {
		t.Fatalf("build the gateway: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs node's process (again, on the same port).
func (f *procFleet) start(node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	port, ok := f.ports[node]
	if !ok {
		port = freePort(f.t)
		f.ports[node] = port
	}
	cmd := exec.Command(f.bin)
	cmd.Env = append(os.Environ(),
		"WSHEAL_GATEWAY_NATS_URL="+f.nats, "WSHEAL_GATEWAY_NODE="+node,
		fmt.Sprintf("WSHEAL_GATEWAY_LISTEN=127.0.0.1:%d", port),
		"WSHEAL_GATEWAY_HEARTBEAT_INTERVAL=100ms", "WSHEAL_GATEWAY_HEALTH_INTERVAL=200ms",
		"WSHEAL_GATEWAY_PING_INTERVAL=200ms", "WSHEAL_GATEWAY_PONG_DEADLINE=300ms",
		"WSHEAL_GATEWAY_DRAIN_OVER=500ms", "WSHEAL_GATEWAY_DRAIN_TIMEOUT=2s", "WSHEAL_GATEWAY_LOG_LEVEL=error")
	if err := cmd.Start(); err != nil {
		f.t.Errorf("start %s: %v", node, err)
		return
	}
	go func() { _ = cmd.Wait() }()
	f.procs[node] = cmd
}

func (f *procFleet) url(node string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("ws://127.0.0.1:%d/ws", f.ports[node])
}

// kill ends node's process with SIGKILL: a crash.
func (f *procFleet) kill(node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = f.procs[node].Process.Signal(syscall.SIGKILL)
}

func (f *procFleet) stopAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		_ = p.Process.Signal(syscall.SIGKILL)
	}
}

// supervise answers the dev restart request by starting the process again.
func (f *procFleet) supervise(t *testing.T, srv *natstest.Server) { serveRestarts(t, srv, f.start) }

func TestGatewayProcessKilledIsRestartedAndClientsRehomed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs gateway processes")
	}
	srv := natstest.Start(t)
	f := &procFleet{t: t, bin: buildGateway(t), nats: srv.URL(), ports: map[string]int{}, procs: map[string]*exec.Cmd{}}
	t.Cleanup(f.stopAll)
	nodes := []string{"p1", "p2", "p3"}
	for _, n := range nodes {
		f.start(n)
	}
	rf := newRealFleet(t, srv) // for status requests only
	natstest.Eventually(t, 30*time.Second, func() bool { return len(rf.conns(nodes...)) == 3 }, "three gateway processes answer")
	a := watchAudit(t, srv)
	f.supervise(t, srv)
	startRealMonitor(t, srv, nil)
	startHealer(t, realHealer(t, srv))
	dialClients(t, 30, f.url("p1"), f.url("p2"), f.url("p3"))
	natstest.Eventually(t, 30*time.Second, func() bool { c := rf.conns(nodes...); return c["p1"]+c["p2"]+c["p3"] == 30 && c["p1"] > 0 },
		"clients spread, some on p1")

	f.kill("p1")
	natstest.Eventually(t, 15*time.Second, func() bool {
		c := rf.conns("p2", "p3")
		return c["p2"]+c["p3"] == 30
	}, "the crashed process's clients on the survivors")
	natstest.Eventually(t, 30*time.Second, func() bool {
		return len(a.find(events.ActionRestart, events.PhaseSucceeded, "")) == 1
	}, "the process restarted and verified")
	natstest.Eventually(t, 30*time.Second, func() bool {
		an := lastAnomaly(t, srv, events.KindNodeDown, "p1")
		return an != nil && an.State == events.AnomalyResolved
	}, "node_down of p1 resolved")
	natstest.Eventually(t, 30*time.Second, func() bool {
		c := rf.conns(nodes...)
		return c["p1"]+c["p2"]+c["p3"] == 30 && ratio(c) <= 1.2
	}, "clients rebalanced onto the restarted process")
}
