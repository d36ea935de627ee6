package notifier

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/notifier/outbox"
)

// incidentsEvery is how long a count of incidents by severity and state
// serves scrapes before the bucket is read again.
const incidentsEvery = 15 * time.Second

// metrics are the notifier's Prometheus series: deliveries counted as
// their outcomes arrive, outbox depth and incident counts read at scrape
// time.
type metrics struct {
	reg           *prometheus.Registry
	notifications *prometheus.CounterVec
	retries       *prometheus.CounterVec
	panics        prometheus.Counter
}

var (
	descOutbox    = prometheus.NewDesc("wsheal_notifier_outbox_pending", "Messages waiting in a sink's outbox (not yet delivered or given up on), by sink.", []string{"sink"}, nil)
	descIncidents = prometheus.NewDesc("wsheal_notifier_incidents", "Incidents kept, by severity and state (read at most every 15 s).", []string{"severity", "state"}, nil)
	descConnected = prometheus.NewDesc("wsheal_notifier_nats_connected", "1 while this replica is connected to NATS.", nil, nil)
)

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_notifier_notifications_total",
			Help: "Notifications to sinks, by sink and outcome (sent, failed, suppressed)."}, []string{"sink", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_notifier_retries_total",
			Help: "Delivery attempts beyond the first, by sink."}, []string{"sink"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "wsheal_notifier_http_panics_total",
			Help: "HTTP handler panics, each answered with 500."}),
	}
	for _, name := range s.cfg.Sinks() {
		m.retries.WithLabelValues(name)
		for _, o := range []string{"sent", "failed"} {
			m.notifications.WithLabelValues(name, o)
		}
	}
	m.reg.MustRegister(m.notifications, m.retries, m.panics, &collector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// count records one delivery's outcome.
func (m *metrics) count(n events.Notification) {
	m.notifications.WithLabelValues(n.Sink, n.Status).Inc()
	if n.Attempts > 1 {
		m.retries.WithLabelValues(n.Sink).Add(float64(n.Attempts - 1))
	}
}

// collector reads the outbox and the incidents at scrape time.
type collector struct {
	s *Service

	mu     sync.Mutex
	at     time.Time
	counts map[[2]string]int
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descOutbox
	ch <- descIncidents
	ch <- descConnected
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, b2f(s.connected()))
	rt := s.live.Load()
	if rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, name := range s.cfg.Sinks() {
		cons, err := rt.js.Consumer(ctx, events.StreamOutbox, outbox.Durable(name))
		if err != nil {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue,
			float64(info.NumPending)+float64(info.NumAckPending), name)
	}
	for k, n := range c.incidents(ctx, rt) {
		ch <- prometheus.MustNewConstMetric(descIncidents, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// incidents counts incidents by (severity, state), reading the bucket at
// most every incidentsEvery.
func (c *collector) incidents(ctx context.Context, rt *running) map[[2]string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts != nil && time.Since(c.at) < incidentsEvery {
		return c.counts
	}
	incs, err := rt.eng.List(ctx, "", 0)
	if err != nil {
		return c.counts
	}
	counts := map[[2]string]int{}
	for _, inc := range incs {
		counts[[2]string{inc.Severity, inc.State}]++
	}
	c.counts, c.at = counts, time.Now()
	return counts
}

// ops are the notifier's /metrics, /healthz and /readyz.
func (s *Service) ops() service.Ops {
	return service.Ops{
		Metrics: promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}),
		Token:   s.cfg.MetricsToken,
		Health:  func() (bool, string) { return true, "ok" },
		Ready: func() (bool, string) {
			switch {
			case s.live.Load() == nil:
				return false, "starting"
			case !s.connected():
				return false, "NATS disconnected"
			}
			return true, "ok"
		},
		Panics: s.metrics.panics.Inc,
	}
}

func (s *Service) connected() bool {
	rt := s.live.Load()
	return rt != nil && rt.nc.Status() == nats.CONNECTED
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
