package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// syncBuffer is a process's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildWsheal builds the wsheal binary once per test run.
func buildWsheal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wsheal")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/wsheal").CombinedOutput()
	if err != nil {
		t.Fatalf("build wsheal: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running wsheal process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
}

// start runs bin with args and env (on top of PATH and HOME only) until
// the test ends, then stops it with SIGTERM.
func start(t *testing.T, bin, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{name: name, cmd: cmd, log: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("--- %s\n%s", name, p.log.String())
		}
	})
	return p
}

// serviceEnv is a service's environment as docker-compose.yml gives it:
// its own NATS user and inbox, NATS_ENSURE=check, the fleet hosts.
func serviceEnv(url, prefix, user string) map[string]string {
	return map[string]string{
		prefix + "_NATS_URL": url, prefix + "_NATS_USER": user, prefix + "_NATS_PASSWORD": password(user),
		prefix + "_NATS_INBOX_PREFIX": inboxPrefix(user), prefix + "_NATS_ENSURE": "check",
		prefix + "_FLEET_HOSTS": "127.0.0.1", prefix + "_LOG_LEVEL": "info",
	}
}

func httpOK(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestServicesRunWithComposePermissions: the real services, as processes,
// with the users, inboxes and NATS_ENSURE=check of docker-compose.yml
// against a server loaded with nats/auth.conf, after `wsheal
// setup-streams` ran as the operator: every service starts and works, and
// the server logs no permission violation (auth.conf grants what the
// services need and no more). A registration forged with the gateways'
// credential, pointing at https://evil.example, is ignored by the running
// gateways: /v1/connect never redirects there.
func TestServicesRunWithComposePermissions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wsheal binary")
	}
	url, log := authServerLog(t)
	bin := buildWsheal(t)
	setup := exec.Command(bin, "setup-streams", "--replicas=1", "--wait=30s")
	setup.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"NATS_URL=" + url, "NATS_USER=operator", "NATS_PASSWORD=" + password("operator")}
	if out, err := setup.CombinedOutput(); err != nil || !strings.Contains(string(out), "created or updated") {
		t.Fatalf("setup-streams: %v\n%s", err, out)
	}

	// A forged desired state, written with the gateways' credential before
	// the node starts: max_conns 0 would refuse every client.
	djs := jsOf(t, dial(t, url, "gateway"))
	desired, err := djs.KeyValue(shortCtx(t), events.BucketDesired)
	if err != nil {
		t.Fatal(err)
	}
	zero, _ := json.Marshal(events.Settings{MaxConns: 0, AcceptRate: 1, AcceptBurst: 1, PingIntervalMS: 1000, PongDeadlineMS: 1000})
	if _, err := desired.Put(shortCtx(t), "gw-1", zero); err != nil {
		t.Fatalf("the gateway user cannot write gw-1's desired state: %v", err)
	}

	gws := map[string]string{}
	var procs []*proc
	for _, node := range []string{"gw-1", "gw-2"} {
		env := serviceEnv(url, "WSHEAL_GATEWAY", "gateway")
		gws[node] = freeAddr(t)
		env["WSHEAL_GATEWAY_NODE"], env["WSHEAL_GATEWAY_LISTEN"] = node, gws[node]
		env["WSHEAL_GATEWAY_HEARTBEAT_INTERVAL"] = "200ms"
		procs = append(procs, start(t, bin, node, env, "serve", "gateway"))
	}
	eventually(t, 30*time.Second, "gw-1 rejected the forged desired state", func() bool {
		return strings.Contains(procs[0].log.String(), "desired state rejected")
	})
	// Two replicas of each control-plane service, as in the compose
	// file: one NATS user and inbox prefix per service, shared.
	// Each listens on its own address; its /readyz is what the compose
	// healthcheck asks.
	var monAddrs, readyz []string
	for i := 1; i <= 2; i++ {
		mon := serviceEnv(url, "WSHEAL_MONITOR", "monitor")
		monAddr := freeAddr(t)
		monAddrs = append(monAddrs, monAddr)
		mon["WSHEAL_MONITOR_LISTEN"], mon["WSHEAL_MONITOR_INSTANCE"] = monAddr, fmt.Sprintf("monitor-%d", i)
		procs = append(procs, start(t, bin, fmt.Sprintf("monitor-%d", i), mon, "serve", "monitor"))
		heal := serviceEnv(url, "WSHEAL_HEALER", "healer")
		heal["WSHEAL_HEALER_INSTANCE"], heal["WSHEAL_HEALER_RESTART"] = fmt.Sprintf("healer-%d", i), "off"
		heal["WSHEAL_HEALER_LISTEN"] = freeAddr(t)
		readyz = append(readyz, "http://"+heal["WSHEAL_HEALER_LISTEN"]+"/readyz")
		procs = append(procs, start(t, bin, fmt.Sprintf("healer-%d", i), heal, "serve", "healer"))
		not := serviceEnv(url, "WSHEAL_NOTIFIER", "notifier")
		delete(not, "WSHEAL_NOTIFIER_FLEET_HOSTS")
		not["WSHEAL_NOTIFIER_INSTANCE"], not["WSHEAL_NOTIFIER_REVIEW_DELAY"] = fmt.Sprintf("notifier-%d", i), "1s"
		not["WSHEAL_NOTIFIER_LISTEN"] = freeAddr(t)
		readyz = append(readyz, "http://"+not["WSHEAL_NOTIFIER_LISTEN"]+"/readyz")
		procs = append(procs, start(t, bin, fmt.Sprintf("notifier-%d", i), not, "serve", "notifier"))
	}

	for node, addr := range gws {
		eventually(t, 30*time.Second, node+" ready", func() bool { return httpOK("http://" + addr + "/readyz") })
	}
	for i, addr := range monAddrs {
		eventually(t, 30*time.Second, fmt.Sprintf("monitor-%d healthy", i+1), func() bool { return httpOK("http://" + addr + "/healthz") })
	}
	for _, u := range readyz {
		eventually(t, 30*time.Second, u+" ready", func() bool { return httpOK(u) })
	}
	op := dial(t, url, "operator")
	for _, svc := range []string{events.ServiceHealer, events.ServiceNotifier, events.ServiceMonitor} {
		eventually(t, 30*time.Second, svc+" answers status", func() bool {
			_, err := op.Request(events.ControlSubject(svc, events.VerbStatus), nil, time.Second)
			return err == nil
		})
	}
	// The healer reads its record bucket (made by setup-streams) under its
	// own permissions.
	var rec events.HealerRecord
	if err := events.Request(context.Background(), op.Conn, events.ControlSubject(events.ServiceHealer, events.VerbHealerRecord), nil, &rec); err != nil {
		t.Fatalf("healer record: %v", err)
	}
	var st events.GatewayStatus
	if err := events.Request(context.Background(), op.Conn, events.GatewayControlSubject("gw-1", events.VerbStatus), nil, &st); err != nil ||
		st.Settings.MaxConns < 1 {
		t.Fatalf("gw-1 status %+v, %v: want the configured max_conns, not the forged 0", st.Settings, err)
	}
	ojs := jsOf(t, op)
	fleet, err := ojs.KeyValue(shortCtx(t), events.BucketFleet)
	if err != nil {
		t.Fatal(err)
	}
	for node := range gws {
		eventually(t, 10*time.Second, node+" registered", func() bool {
			_, err := fleet.Get(context.Background(), node)
			return err == nil
		})
	}

	// The gateways' credential, stolen: it may write a registry key, and
	// what it writes there is not believed.
	thief := jsOf(t, dial(t, url, "gateway"))
	tfleet, err := thief.KeyValue(shortCtx(t), events.BucketFleet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	forged, _ := json.Marshal(events.Registration{Node: "gw-3", URL: "https://evil.example/login", Capacity: 1_000_000,
		UpdatedAt: now.Add(time.Minute), StartedAt: now, HeartbeatMS: 60_000})
	if _, err := tfleet.Put(shortCtx(t), "gw-3", forged); err != nil {
		t.Fatalf("the gateway user cannot write gw-3's key: %v", err)
	}
	eventually(t, 10*time.Second, "the gateways logged the forged registration as ignored", func() bool {
		return strings.Contains(procs[0].log.String(), "registration ignored") && strings.Contains(procs[1].log.String(), "registration ignored")
	})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 20 {
		resp, err := noFollow.Get("http://" + gws["gw-1"] + "/v1/connect?redirect=1")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if loc := resp.Header.Get("Location"); strings.Contains(loc, "evil") {
			t.Fatalf("/v1/connect redirected to %s", loc)
		}
	}
	// The whole loop under these permissions: gw-2 dies, the monitor
	// raises node_down, the healer decides (restarts are off here), the
	// notifier opens an incident.
	_ = procs[1].cmd.Process.Kill()
	var l events.IncidentList
	eventually(t, 60*time.Second, "an incident for gw-2", func() bool {
		err := events.Request(context.Background(), op.Conn, events.ControlSubject(events.ServiceNotifier, events.VerbIncidentList),
			events.IncidentListRequest{Limit: 10}, &l)
		return err == nil && len(l.Incidents) > 0
	})
	// Its review, once an operator resolves it, reads the healer's record
	// under the notifier's own permissions.
	inc := l.Incidents[0].ID
	if err := events.Request(context.Background(), op.Conn, events.ControlSubject(events.ServiceNotifier, events.VerbResolve),
		&events.IncidentCommand{ID: "resolve-1", Incident: inc, By: "test"}, nil); err != nil {
		t.Fatalf("resolve %s: %v", inc, err)
	}
	var rv events.Review
	eventually(t, 30*time.Second, "the review of "+inc, func() bool {
		err := events.Request(context.Background(), op.Conn, events.ControlSubject(events.ServiceNotifier, events.VerbReview),
			&events.IncidentRequest{Incident: inc}, &rv)
		return err == nil && strings.Contains(rv.Markdown, "## What to tune")
	})
	if out := procs[len(procs)-1].log.String(); strings.Contains(out, "without the healer's record") {
		t.Fatalf("the notifier could not read the healer's record:\n%s", out)
	}
	if v := log.list(); len(v) > 0 {
		t.Fatalf("the services hit %d permission violations; auth.conf lacks a grant or a service oversteps:\n%s",
			len(v), strings.Join(v, "\n"))
	}
	for _, p := range procs {
		if strings.Contains(p.log.String(), "Permissions Violation") {
			t.Fatalf("%s logged a permissions violation:\n%s", p.name, p.log.String())
		}
	}
}
