package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	gw "github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
	"github.com/wsheal/wsheal/services/healer"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/remedy"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/monitor"
)

// containers plays the container runtime for the gateway pods of ns: each
// live pod runs a real gateway (in this process) named as the pod, on the
// test's NATS server; when a pod is replaced, the old pod's gateway stops
// and the new pod's starts. A gateway killed by the test stays dead (the
// kubelet would restart the container only after its liveness probe
// failed, and the healer is faster).
type containers struct {
	url  string
	mu   sync.Mutex
	runs map[string]*process // by pod name
}

type process struct {
	uid  types.UID
	svc  *gw.Service
	stop context.CancelFunc
	done chan struct{}
}

func startRuntime(t *testing.T, ns, url string) *containers {
	rt := &containers{url: url, runs: map[string]*process{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for _, p := range rt.runs {
			p.stop()
			<-p.done
		}
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for uid, p := range livePodsCtx(ctx, ns) {
				rt.ensure(p.Name, uid)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return rt
}

// ensure runs pod name's gateway for the pod's current uid.
func (rt *containers) ensure(name string, uid types.UID) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if p := rt.runs[name]; p != nil {
		if p.uid == uid {
			return
		}
		p.stop()
		<-p.done
	}
	s, err := gw.New(gatewaytest.Config(rt.url, name), zerolog.Nop())
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{uid: uid, svc: s, stop: cancel, done: make(chan struct{})}
	go func() { defer close(p.done); _ = s.Run(ctx) }()
	rt.runs[name] = p
}

// kill crashes pod name's gateway; its pod stays.
func (rt *containers) kill(name string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if p := rt.runs[name]; p != nil {
		p.svc.Kill()
	}
}

func livePodsCtx(ctx context.Context, ns string) map[types.UID]struct{ Name string } {
	out := map[types.UID]struct{ Name string }{}
	l, err := cluster.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: gatewaySelector})
	if err != nil {
		return out
	}
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out[p.UID] = struct{ Name string }{p.Name}
		}
	}
	return out
}

// healerKubeconfig is a kubeconfig file of the healer's ServiceAccount in
// ns, bound to healer-rbac.yaml's Role.
func healerKubeconfig(t *testing.T, ns string) string {
	t.Helper()
	if out, err := kubectl(t, "apply", "-n", ns, "-f", "healer-rbac.yaml"); err != nil {
		t.Fatalf("apply healer-rbac.yaml: %v\n%s", err, out)
	}
	u, err := cluster.env.ControlPlane.AddUser(envtest.User{Name: "system:serviceaccount:" + ns + ":wsheal-healer",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "healer.kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The whole loop on Kubernetes: gateway gw-1 (a StatefulSet pod) dies; the
// real monitor raises node_down; the real healer, with RESTART=kubernetes
// and only its Role's rights, evicts gw-1's pod under the budget; the
// StatefulSet recreates it; its new gateway process beats; the healer
// verifies the restart by the new process and records the new pod's uid.
func TestHealerRestartsAGatewayPodOnKubernetes(t *testing.T) {
	needCluster(t)
	ns := namespace(t, "loop")
	kc := healerKubeconfig(t, ns)
	statefulGateways(t, ns, 3)
	kubelet(t, ns, func() bool { return true })
	srv := natstest.Start(t)
	rt := startRuntime(t, ns, srv.URL())
	natstest.Eventually(t, time.Minute, func() bool { return allowed(t, ns) == 1 }, "the budget never allowed one disruption")

	nc := srv.Conn()
	var mu sync.Mutex
	var done, all []events.Remediation
	var anomalies []string
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			for _, a := range anomalies {
				t.Logf("anomaly %s", a)
			}
			for _, r := range all {
				t.Logf("remediation %s %s %s: %s", r.Action, r.Phase, r.Target, r.Detail)
			}
		}
	})
	anSub, err := nc.Subscribe(events.AnomaliesAll, func(m *nats.Msg) {
		if ev, err := events.Decode(m.Data); err == nil {
			if a, ok := events.As[*events.Anomaly](ev); ok {
				mu.Lock()
				anomalies = append(anomalies, fmt.Sprintf("%s %s %s %s", time.Now().Format("15:04:05.000"), a.Kind, a.Target, a.State))
				mu.Unlock()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = anSub.Unsubscribe() }()
	sub, err := nc.Subscribe(events.RemediationsAll, func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		if r, ok := events.As[*events.Remediation](ev); ok {
			mu.Lock()
			all = append(all, *r)
			if r.Phase == events.PhaseSucceeded && r.Action == events.ActionRestart {
				done = append(done, *r)
			}
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	startMonitor(t, srv.URL())
	startHealerService(t, healer.Config{
		NATS: service.NATS{URL: srv.URL(), Replicas: 1}, Log: service.Log{Level: "warn", Format: "json"},
		Instance: "h1", Restart: "kubernetes",
		Kube: healer.KubeConfig{Kubeconfig: kc, Namespace: ns, Selector: gatewaySelector, EvictFor: 30 * time.Second,
			HungGrace: time.Second, Wait: 30 * time.Second},
		DockerSocket: "/nonexistent.sock", DockerLabel: "io.wsheal.node", DockerGrace: time.Second,
		CommandTimeout: 2 * time.Second, WebhookTimeout: 2 * time.Second,
		NodeForget: time.Minute, Heartbeat: 100 * time.Millisecond,
		Config: remedy.Config{
			Durable: "wsheal-healer", AckWait: 5 * time.Second, MaxInFlight: 16, Replay: time.Minute,
			Backoff:    safety.Backoff{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond, Healthy: 10 * time.Second},
			Budget:     safety.Budget{Rate: 100, Burst: 100},
			BlastShare: 0.5, PanicShare: 0.5, RetryCap: 3, FlapHeals: 3, FlapWindow: time.Minute,
			Poll: 50 * time.Millisecond, Wait: 100 * time.Millisecond, DrainOver: 200 * time.Millisecond,
			MaxAge: time.Hour, CaseTTL: time.Hour,
			Scale: gate.Scale{Min: 1, Max: 10, Cooldown: 2 * time.Minute, InCooldown: 5 * time.Minute},
		},
	})
	// Every node up and heard before the fault.
	natstest.Eventually(t, 30*time.Second, func() bool {
		for _, n := range []string{"gw-0", "gw-1", "gw-2"} {
			var st events.GatewayStatus
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := events.Request(ctx, nc, events.GatewayControlSubject(n, events.VerbStatus), &events.GatewayStatusRequest{}, &st)
			cancel()
			if err != nil {
				return false
			}
		}
		return true
	}, "the three gateways never answered")
	old, err := cluster.cs.CoreV1().Pods(ns).Get(context.Background(), "gw-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// ... and by the monitor, whose warm-up ends once it heard them all
	// (a node it never heard is not one it can call down).
	natstest.Eventually(t, 30*time.Second, func() bool {
		var st events.FleetStatus
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := events.Request(ctx, nc, events.ControlSubject(events.ServiceMonitor, events.VerbStatus), &events.FleetStatusRequest{}, &st)
		return err == nil && st.ByState[events.NodeHealthy] == 3
	}, "the monitor never saw three healthy gateways")
	t.Logf("%s kill gw-1", time.Now().Format("15:04:05.000"))
	rt.kill("gw-1")
	natstest.Eventually(t, 90*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) > 0
	}, "the healer never verified a restart of gw-1")
	mu.Lock()
	r := done[0]
	mu.Unlock()
	now, err := cluster.cs.CoreV1().Pods(ns).Get(context.Background(), "gw-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("remediation: %s", r.Detail)
	if r.Target != "gw-1" || now.UID == old.UID ||
		!strings.Contains(r.Detail, "pod gw-1 uid "+string(old.UID)+" evicted, replaced by gw-1 uid "+string(now.UID)) ||
		!strings.Contains(r.Detail, "now runs process") {
		t.Fatalf("restart of %s verified with %q; want gw-1's pod %s replaced by %s and a new process", r.Target, r.Detail, old.UID, now.UID)
	}
}

func startMonitor(t *testing.T, url string) {
	t.Helper()
	t.Setenv(monitor.EnvPrefix+"_NATS_URL", url)
	cfg, err := monitor.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Instance, cfg.Listen = "m1", "off"
	cfg.Tick, cfg.FleetEvery, cfg.Beat, cfg.ProbeTimeout = 20*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond
	cfg.SuspectMisses, cfg.DownMisses = 5, 15
	svc, err := monitor.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	run(t, "monitor", svc.Run)
}

func startHealerService(t *testing.T, cfg healer.Config) {
	t.Helper()
	s, err := healer.New(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	run(t, "healer", s.Run)
}

// run runs f until the test ends.
func run(t *testing.T, name string, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", name)
		}
	})
}
