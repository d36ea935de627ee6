package healer

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// maxVerifying bounds the actions whose start time is remembered for
// wsheal_healer_verify_seconds; when it is reached, starts older than an
// hour are forgotten, and past it a start is not timed.
const maxVerifying = 10000

// metrics are the healer's Prometheus series, fed by every published
// decision (remedy.Deps.Observe) and read from the service at scrape time.
type metrics struct {
	reg     *prometheus.Registry
	actions *prometheus.CounterVec
	holds   *prometheus.CounterVec
	verify  *prometheus.HistogramVec
	escal   *prometheus.CounterVec
	panics  prometheus.Counter

	mu      sync.Mutex
	started map[string]time.Time // decision id -> when it was started
	now     func() time.Time
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_healer_actions_total",
			Help: "Remediation decisions published, by action, outcome (the phase: requested, started, succeeded, failed, skipped) and reason."},
			[]string{"action", "outcome", "reason"}),
		holds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_healer_gate_holds_total",
			Help: "Actions held back by a gate (cooldown, budget, panic, paused, blast-radius, dry-run ...), by gate."},
			[]string{"gate"}),
		verify: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wsheal_healer_verify_seconds",
			Help:    "Time from an action's start to its verdict (succeeded or failed), by action and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 12)}, []string{"action", "outcome"}),
		escal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_healer_escalations_total",
			Help: "Incidents handed to a human, by reason."}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "wsheal_healer_http_panics_total",
			Help: "HTTP handler panics, each answered with 500."}),
		started: map[string]time.Time{},
		now:     time.Now,
	}
	for _, gate := range []string{events.SkipCooldown, events.SkipBudget, events.SkipPanic, events.SkipPaused,
		events.SkipBlast, events.SkipDryRun, events.SkipHandsOff, events.SkipFlapping} {
		m.holds.WithLabelValues(gate)
	}
	m.reg.MustRegister(m.actions, m.holds, m.verify, m.escal, m.panics,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wsheal_healer_paused",
			Help: "1 while the healer is paused (it decides and acts never)."},
			func() float64 { return b2f(s.liveState() == "paused") }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wsheal_healer_dry_run",
			Help: "1 while the healer is in dry-run (it decides and publishes, acts never)."},
			func() float64 { return b2f(s.liveState() == "dry-run") }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wsheal_healer_nats_connected",
			Help: "1 while this replica is connected to NATS."},
			func() float64 { return b2f(s.connected()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts one published decision.
func (m *metrics) observe(r events.Remediation) {
	m.actions.WithLabelValues(r.Action, r.Phase, r.Reason).Inc()
	if r.Escalate {
		m.escal.WithLabelValues(r.Reason).Inc()
	}
	switch r.Phase {
	case events.PhaseSkipped:
		m.holds.WithLabelValues(r.Reason).Inc()
	case events.PhaseStarted:
		m.mu.Lock()
		now := m.now()
		if len(m.started) >= maxVerifying {
			// Starts whose verdict another replica published never end here.
			for id, at := range m.started {
				if now.Sub(at) > time.Hour {
					delete(m.started, id)
				}
			}
		}
		if len(m.started) < maxVerifying {
			m.started[r.ID] = now
		}
		m.mu.Unlock()
	case events.PhaseSucceeded, events.PhaseFailed:
		m.mu.Lock()
		at, ok := m.started[r.ID]
		delete(m.started, r.ID)
		m.mu.Unlock()
		if ok {
			m.verify.WithLabelValues(r.Action, r.Phase).Observe(m.now().Sub(at).Seconds())
		}
	}
}

// ops are the healer's /metrics, /healthz and /readyz.
func (s *Service) ops() service.Ops {
	return service.Ops{
		Metrics: promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}),
		Token:   s.cfg.MetricsToken,
		Health:  func() (bool, string) { return true, "ok" },
		Ready:   s.ready,
		Panics:  s.metrics.panics.Inc,
	}
}

// ready holds once the engine runs on a connected NATS connection.
func (s *Service) ready() (bool, string) {
	switch {
	case s.live.Load() == nil:
		return false, "starting"
	case !s.connected():
		return false, "NATS disconnected"
	}
	return true, "ok"
}

// liveState is stateWord once the engine runs, else "".
func (s *Service) liveState() string {
	if s.live.Load() == nil {
		return ""
	}
	return s.stateWord()
}

func (s *Service) connected() bool {
	nc := s.nc.Load()
	return nc != nil && nc.Status() == nats.CONNECTED
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
