package notifier

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/notifier/sink/pagerduty"
	"github.com/wsheal/wsheal/services/notifier/sink/webhook"
)

const secret = "test-secret"

// pdReceiver answers like the PagerDuty Events API v2: 202 and a success
// body, or the status fail returns for a request (429 carries Retry-After).
type pdReceiver struct {
	mu       sync.Mutex
	fail     func(ev pagerduty.Event) int
	requests []pagerduty.Event
	accepted []pagerduty.Event
}

func (p *pdReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev pagerduty.Event
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &ev); err != nil || ev.RoutingKey == "" || ev.DedupKey == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid"}`))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, ev)
	if p.fail != nil {
		if code := p.fail(ev); code != 0 {
			if code == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(code)
			return
		}
	}
	p.accepted = append(p.accepted, ev)
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"` + ev.DedupKey + `"}`))
}

func (p *pdReceiver) setFail(f func(pagerduty.Event) int) {
	p.mu.Lock()
	p.fail = f
	p.mu.Unlock()
}

// count returns how many requests and accepted events had action.
func (p *pdReceiver) count(action string) (requests, accepted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range p.requests {
		if ev.EventAction == action {
			requests++
		}
	}
	for _, ev := range p.accepted {
		if ev.EventAction == action {
			accepted++
		}
	}
	return requests, accepted
}

func (p *pdReceiver) events() []pagerduty.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pagerduty.Event(nil), p.accepted...)
}

// hookReceiver is a generic webhook (or Slack) receiver that checks the
// signature when signed is set.
type hookReceiver struct {
	mu     sync.Mutex
	signed bool
	bodies []webhook.Body
	raw    [][]byte
	bad    int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.signed {
		if err := webhook.Verify([]byte(secret), r.Header.Get(webhook.SignatureHeader), raw, time.Now(), time.Minute); err != nil {
			h.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var b webhook.Body
		_ = json.Unmarshal(raw, &b)
		h.bodies = append(h.bodies, b)
	}
	h.raw = append(h.raw, raw)
	_, _ = w.Write([]byte("ok"))
}

func (h *hookReceiver) got() ([]webhook.Body, int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Body(nil), h.bodies...), len(h.raw), h.bad
}

// env is one test's NATS server and HTTP receivers.
type env struct {
	t     *testing.T
	nats  *natstest.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	pd    *pdReceiver
	slack *hookReceiver
	hook  *hookReceiver
	cfg   Config
	mon   *events.Emitter
	heal  *events.Emitter
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, nats: natstest.Start(t), pd: &pdReceiver{}, slack: &hookReceiver{}, hook: &hookReceiver{signed: true}}
	nc, js := e.nats.JetStream()
	e.nc, e.js = nc, js
	e.mon = events.NewEmitter(nc, js, events.Source(events.ServiceMonitor, "test"))
	e.heal = events.NewEmitter(nc, js, events.Source(events.ServiceHealer, "test"))
	pd, slack, hook := httptest.NewServer(e.pd), httptest.NewServer(e.slack), httptest.NewServer(e.hook)
	t.Cleanup(pd.Close)
	t.Cleanup(slack.Close)
	t.Cleanup(hook.Close)
	if err := envconfig.Process("WSHEAL_NOTIFIER_TEST_DEFAULTS", &e.cfg); err != nil {
		t.Fatal(err)
	}
	c := &e.cfg
	c.URL = e.nats.URL()
	c.Listen = "off" // a test that scrapes picks its own address
	c.Tick, c.ReviewDelay = 50*time.Millisecond, 300*time.Millisecond
	c.RetryInitial, c.RetryMax, c.RetryAttempts = 20*time.Millisecond, 100*time.Millisecond, 20
	c.Rate, c.UnhealedAfter, c.Repeat = 0, 0, 0
	c.Escalation = "pagerduty,slack@600ms;webhook"
	c.PagerDutyURL, c.PagerDutyRoutingKey = pd.URL, "R0UT1NGKEY"
	c.SlackURL, c.WebhookURL, c.WebhookSecret = slack.URL, hook.URL, secret
	return e
}

// start runs a notifier instance; the returned stop waits for Run to return.
func (e *env) start(instance string) (stop func()) {
	e.t.Helper()
	cfg := e.cfg
	cfg.Instance = instance
	svc, err := New(cfg, zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.WarnLevel))
	if err != nil {
		e.t.Fatal(err)
	}
	beat, err := e.nc.SubscribeSync(events.ServiceHeartbeatSubject(events.ServiceNotifier, instance))
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = beat.Unsubscribe() }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	if _, err := beat.NextMsg(10 * time.Second); err != nil {
		cancel()
		e.t.Fatalf("notifier %s sent no heartbeat: %v", instance, err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// anomaly builds a node anomaly with impact start before detection.
func nodeAnomaly(kind, node string, impactStart, detected time.Time, share float64) *events.Anomaly {
	return &events.Anomaly{ID: events.AnomalyID(kind, node, impactStart), Kind: kind, State: events.AnomalyOpen,
		Target: node, Nodes: []string{node}, Severity: events.SeverityError,
		Impact:   events.Impact{Connections: int(share * 1000), Share: share, Nodes: 1, FleetNodes: 8},
		Evidence: events.Evidence{Metric: "heartbeat_age_ms", Value: 3000, Threshold: 2500, WindowMS: 3000},
		Summary:  kind + " on " + node, ImpactStart: impactStart, DetectedAt: detected}
}

func (e *env) publishAnomaly(a *events.Anomaly) {
	e.t.Helper()
	if _, err := e.mon.Emit(context.Background(), events.AnomalySubject(a.Kind, a.Target), a); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) resolveAnomaly(a *events.Anomaly, at time.Time) {
	e.t.Helper()
	b := *a
	b.State, b.ResolvedAt = events.AnomalyResolved, at
	e.publishAnomaly(&b)
}

func (e *env) publishRemediation(r *events.Remediation) {
	e.t.Helper()
	if _, err := e.heal.Emit(context.Background(), events.RemediationSubject(r.Action, r.Target), r); err != nil {
		e.t.Fatal(err)
	}
}

// control sends a request to the notifier.
func (e *env) control(verb string, req, out any) error {
	return events.Request(context.Background(), e.nc, events.ControlSubject(events.ServiceNotifier, verb), req, out)
}

// incidents lists every incident.
func (e *env) incidents() []events.Incident {
	var l events.IncidentList
	if err := e.control(events.VerbIncidentList, events.IncidentListRequest{Limit: 100}, &l); err != nil {
		e.t.Logf("list: %v", err)
	}
	return l.Incidents
}

// waitIncident waits for exactly one incident matching cond and returns it.
func (e *env) waitIncident(timeout time.Duration, cond func(events.Incident) bool, msg string) events.Incident {
	e.t.Helper()
	var got events.Incident
	natstest.Eventually(e.t, timeout, func() bool {
		for _, inc := range e.incidents() {
			if cond(inc) {
				got = inc
				return true
			}
		}
		return false
	}, "%s", msg)
	var full events.Incident
	if err := e.control(events.VerbIncidentGet, events.IncidentRequest{Incident: got.ID}, &full); err != nil {
		e.t.Fatal(err)
	}
	return full
}

// outboxEmpty reports whether every outbox message was acknowledged.
func (e *env) outboxEmpty() bool {
	st, err := e.js.Stream(context.Background(), events.StreamOutbox)
	if err != nil {
		return false
	}
	info, err := st.Info(context.Background())
	return err == nil && info.State.Msgs == 0
}
