package healer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/remedy"
	"github.com/wsheal/wsheal/services/healer/safety"
)

// testPolicies are short-deadline policies for the scenarios.
const testPolicies = `policies:
  - name: node-down
    kinds: [node_down, node_hung]
    actions:
      - action: restart
        deadline: 1500ms
    then:
      - action: rebalance
        wave_pause: 150ms
        wave_fraction: 0.5
        deadline: 5s
  - name: overload
    kinds: [saturation]
    actions:
      - action: resize
        max_conns_factor: 0.5
        accept_rate: 5
        restore_after: 100ms
        deadline: 10s
  - name: stale
    kinds: [stale_spike]
    actions:
      - action: reconnect
        select: stale
        verify: none
  - name: imbalance
    kinds: [imbalance]
    actions:
      - action: rebalance
        wave_pause: 150ms
        wave_fraction: 0.5
        deadline: 10s
  - name: flapping
    kinds: [flapping]
    actions:
      - action: quarantine
`

// testStale is how long a silent peer stays healthy in the healers' view
// (the fleet's staleness rule for the peers' 50 ms heartbeat).
var testStale = events.StaleAfter(50 * time.Millisecond)

// testConfig is a healer on srv with short timings.
func testConfig(t *testing.T, srv *natstest.Server) healer.Config {
	return testConfigURL(t, srv.URL())
}

// testConfigURL is testConfig for a server at url.
func testConfigURL(t *testing.T, url string) healer.Config {
	path := filepath.Join(t.TempDir(), "policies.yaml")
	if err := os.WriteFile(path, []byte(testPolicies), 0o600); err != nil {
		t.Fatal(err)
	}
	return healer.Config{
		NATS: service.NATS{URL: url, Replicas: 1}, Log: service.Log{Level: "info", Format: "json"},
		Instance: "h1", Policies: path, Restart: "dev",
		DockerSocket: "/nonexistent.sock", DockerLabel: "io.wsheal.node", DockerGrace: time.Second,
		CommandTimeout: 2 * time.Second, WebhookTimeout: 2 * time.Second,
		NodeForget: time.Minute, Heartbeat: 100 * time.Millisecond,
		Config: remedy.Config{
			Durable: "wsheal-healer", AckWait: time.Second, MaxInFlight: 16, Replay: time.Minute,
			Backoff:    safety.Backoff{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond, Healthy: 10 * time.Second},
			Budget:     safety.Budget{Rate: 100, Burst: 100},
			BlastShare: 0.5, PanicShare: 0.5, RetryCap: 3, FlapHeals: 3, FlapWindow: time.Minute,
			Poll: 20 * time.Millisecond, Wait: 100 * time.Millisecond, DrainOver: 100 * time.Millisecond,
			MaxAge: time.Hour, CaseTTL: time.Hour,
			Scale: gate.Scale{Min: 1, Max: 10, Cooldown: 2 * time.Minute, InCooldown: 5 * time.Minute},
		},
	}
}

// startHealer runs a replica until the test ends; kill stops it at once.
func startHealer(t *testing.T, cfg healer.Config) (kill func()) {
	t.Helper()
	s, err := healer.New(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatalf("healer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("healer run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("healer did not stop")
			}
		})
	}
	t.Cleanup(stop)
	// Ready once its control service answers.
	nc := natsConn(t, cfg.URL)
	natstest.Eventually(t, 30*time.Second, func() bool {
		var st events.HealerStatus
		return events.Request(context.Background(), nc, events.ControlSubject(events.ServiceHealer, events.VerbStatus), nil, &st) == nil &&
			st.Instance == cfg.Instance
	}, "healer %s answers status", cfg.Instance)
	return stop
}

func natsConn(t *testing.T, url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.Timeout(10*time.Second), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// audit collects every remediation event.
type audit struct {
	mu      sync.Mutex
	all     []events.Remediation
	sources map[string]int // events per emitting instance
}

func watchAudit(t *testing.T, srv *natstest.Server) *audit {
	a := &audit{sources: map[string]int{}}
	nc := srv.Conn()
	_, err := nc.Subscribe(events.RemediationsAll, func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if err != nil {
			t.Errorf("bad remediation event: %v", err)
			return
		}
		if r, ok := events.As[*events.Remediation](ev); ok {
			a.mu.Lock()
			a.all = append(a.all, *r)
			a.sources[ev.Source]++
			a.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	t.Cleanup(func() {
		if t.Failed() {
			a.dump(t) // what the healer decided, for the reader of a failure
		}
	})
	return a
}

// find returns the events matching action and phase ("" for any), and
// reason when given.
func (a *audit) find(action, phase, reason string) []events.Remediation {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []events.Remediation
	for _, r := range a.all {
		if (action == "" || r.Action == action) && (phase == "" || r.Phase == phase) && (reason == "" || r.Reason == reason) {
			out = append(out, r)
		}
	}
	return out
}

func (a *audit) dump(t *testing.T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.all {
		t.Logf("audit: %s %s %s attempt=%d reason=%s escalate=%v: %s", r.Action, r.Target, r.Phase, r.Attempt, r.Reason, r.Escalate, r.Detail)
	}
}

// publisher publishes anomalies as the monitor does.
type publisher struct {
	t  *testing.T
	em *events.Emitter
}

func newPublisher(t *testing.T, srv *natstest.Server) *publisher {
	nc, js := srv.JetStream()
	return &publisher{t: t, em: events.NewEmitter(nc, js, events.Source(events.ServiceMonitor, "test"))}
}

func (m *publisher) open(kind, target, severity string, nodes ...string) *events.Anomaly {
	now := time.Now().UTC()
	an := &events.Anomaly{ID: events.AnomalyID(kind, target, now) + "-" + now.Format("150405.000000"), Kind: kind,
		State: events.AnomalyOpen, Target: target, Nodes: nodes, Severity: severity, Summary: kind + " on " + target,
		ImpactStart: now, DetectedAt: now}
	m.publish(an)
	return an
}

// tryOpen publishes an open warning anomaly and returns the error.
func (m *publisher) tryOpen(kind, target string) error {
	now := time.Now().UTC()
	an := &events.Anomaly{ID: events.AnomalyID(kind, target, now) + "-try", Kind: kind, State: events.AnomalyOpen,
		Target: target, Severity: events.SeverityWarning, DetectedAt: now}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := m.em.Emit(ctx, events.AnomalySubject(kind, target), an)
	return err
}

func (m *publisher) resolve(an *events.Anomaly) {
	r := *an
	r.State, r.ResolvedAt = events.AnomalyResolved, time.Now().UTC()
	m.publish(&r)
}

func (m *publisher) publish(an *events.Anomaly) {
	if _, err := m.em.Emit(context.Background(), events.AnomalySubject(an.Kind, an.Target), an); err != nil {
		m.t.Fatalf("publish anomaly: %v", err)
	}
}

// supervisor is a test `wsheal dev` supervisor: a real micro service
// answering restart. helps decides whether the restarted node comes back.
type supervisor struct {
	mu    sync.Mutex
	ids   map[string]int
	calls []string
}

func startSupervisor(t *testing.T, srv *natstest.Server, f *peers, helps func(node string) bool) *supervisor {
	s := &supervisor{ids: map[string]int{}}
	nc := srv.Conn()
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName(events.ServiceDev), Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	err = svc.AddGroup(events.ControlGroup(events.ServiceDev)).AddEndpoint(events.VerbRestart, micro.HandlerFunc(func(req micro.Request) {
		var cmd events.RestartCommand
		if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
			events.RespondError(req, err)
			return
		}
		s.mu.Lock()
		s.ids[cmd.ID]++
		first := s.ids[cmd.ID] == 1
		s.calls = append(s.calls, cmd.Node)
		s.mu.Unlock()
		if first && helps(cmd.Node) {
			f.start(cmd.Node)
		}
		events.Respond(req, events.RestartReply{Process: events.Process{Name: cmd.Node, Service: "gateway", PID: 4242, Running: true}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return s
}

// restarts counts distinct restart ids and all requests.
func (s *supervisor) restarts() (distinct, requests int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids), len(s.calls)
}

func request(t *testing.T, nc *nats.Conn, verb string, cmd, out any) error {
	t.Helper()
	return events.Request(context.Background(), nc, events.ControlSubject(events.ServiceHealer, verb), cmd, out)
}

func isControlError(err error, code events.ErrorCode) bool {
	var ce *events.Error
	return errors.As(err, &ce) && ce.Code == code
}

func (a *audit) bySource() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.sources {
		out[k] = v
	}
	return out
}

// consumerInfo reads the state of the healers' shared anomalies consumer.
func consumerInfo(t *testing.T, srv *natstest.Server, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	_, js := srv.JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, events.StreamAnomalies, durable)
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	return info
}

// settled returns once the healers' consumer delivered every anomaly and
// holds none unacknowledged: every decision is durable and none comes
// back, so nothing more can happen for them.
func settled(t *testing.T, srv *natstest.Server, durable string) {
	t.Helper()
	natstest.Eventually(t, 30*time.Second, func() bool {
		info := consumerInfo(t, srv, durable)
		return info.NumPending == 0 && info.NumAckPending == 0
	}, "every anomaly decided and acknowledged")
}

// redelivered returns once the consumer made n more deliveries than it
// had made when called: a waiting anomaly was evaluated again n times.
func redelivered(t *testing.T, srv *natstest.Server, durable string, n uint64) {
	t.Helper()
	from := consumerInfo(t, srv, durable).Delivered.Consumer
	natstest.Eventually(t, 30*time.Second, func() bool {
		return consumerInfo(t, srv, durable).Delivered.Consumer >= from+n
	}, "%d more deliveries", n)
}

// consuming returns once a healer consumes anomalies: past its warm-up,
// so its fleet view has heard every live node.
func consuming(t *testing.T, srv *natstest.Server, durable string) {
	t.Helper()
	_, js := srv.JetStream()
	natstest.Eventually(t, 30*time.Second, func() bool {
		_, err := js.Consumer(context.Background(), events.StreamAnomalies, durable)
		return err == nil
	}, "a healer consumes anomalies")
}
