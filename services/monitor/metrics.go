package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the monitor's Prometheus series. Counters are updated as
// things happen; the fleet gauges are read from the view at scrape time,
// so a forgotten node leaves no stale series.
type metrics struct {
	events       *prometheus.CounterVec
	connEvents   *prometheus.CounterVec
	anomalies    *prometheus.CounterVec
	raised       *prometheus.CounterVec
	evaluations  *prometheus.CounterVec
	probes       *prometheus.CounterVec
	decodeErrors prometheus.Counter
	dropped      prometheus.Counter
	httpPanics   prometheus.Counter
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_monitor_events_total",
			Help: "Gateway events received, by type."}, []string{"type"}),
		connEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_monitor_conn_events_total",
			Help: "Notable connection events reported by gateways (suppressed ones included), by kind."}, []string{"kind"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_monitor_anomalies_total",
			Help: "Anomalies opened and resolved by this replica, by kind and state."}, []string{"kind", "state"}),
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_monitor_anomalies_raised_total",
			Help: "Anomalies opened by this replica, by kind and severity."}, []string{"kind", "severity"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_monitor_detector_evaluations_total",
			Help: "Detector evaluations, by scope: node (a detector over one health snapshot), fleet (a fleet-wide detector's round), liveness (a heartbeat check of every node)."},
			[]string{"scope"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wsheal_monitor_probes_total",
			Help: "Probes of silent nodes, by verdict (node_down or node_hung)."}, []string{"verdict"}),
		decodeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "wsheal_monitor_decode_errors_total",
			Help: "Events dropped as undecodable or on the wrong subject."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "wsheal_monitor_events_dropped_total",
			Help: "Events dropped because the detection loop was behind."}),
		httpPanics: prometheus.NewCounter(prometheus.CounterOpts{Name: "wsheal_monitor_http_panics_total",
			Help: "HTTP handler panics, each answered with 500."}),
	}
	for _, scope := range []string{"node", "fleet", "liveness"} {
		m.evaluations.WithLabelValues(scope)
	}
	s.reg.MustRegister(m.events, m.connEvents, m.anomalies, m.raised, m.evaluations, m.probes, m.decodeErrors, m.dropped, m.httpPanics,
		&fleetCollector{s: s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var (
	descNodes     = prometheus.NewDesc("wsheal_monitor_nodes", "Nodes in the fleet view, by state.", []string{"state"}, nil)
	descNodeState = prometheus.NewDesc("wsheal_monitor_node_state", "1 for the node's current state.", []string{"node", "state"}, nil)
	descConns     = prometheus.NewDesc("wsheal_monitor_node_connections", "Connections a node last reported.", []string{"node"}, nil)
	descCapacity  = prometheus.NewDesc("wsheal_monitor_node_capacity", "Capacity a node last reported.", []string{"node"}, nil)
	descRTT       = prometheus.NewDesc("wsheal_monitor_node_rtt_p99_seconds", "A node's last reported p99 round trip of server pings.", []string{"node"}, nil)
	descOpen      = prometheus.NewDesc("wsheal_monitor_anomalies_open", "Open anomalies, by kind.", []string{"kind"}, nil)
	descPanic     = prometheus.NewDesc("wsheal_monitor_panic", "1 while the panic threshold holds node verdicts.", nil, nil)
	descConnected = prometheus.NewDesc("wsheal_monitor_nats_connected", "1 while this replica is connected to NATS.", nil, nil)
	descPending   = prometheus.NewDesc("wsheal_monitor_pending_writes", "Anomaly events and records waiting to be written.", nil, nil)
)

// fleetCollector reads the fleet view at scrape time.
type fleetCollector struct{ s *Service }

// Describe implements prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descNodeState, descConns, descCapacity, descRTT, descOpen, descPanic, descConnected, descPending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	byState := map[string]int{}
	for _, n := range s.view.Nodes() {
		byState[n.State]++
		ch <- prometheus.MustNewConstMetric(descNodeState, prometheus.GaugeValue, 1, n.ID, n.State)
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(n.Connections()), n.ID)
		ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(n.Capacity()), n.ID)
		if n.Health != nil {
			ch <- prometheus.MustNewConstMetric(descRTT, prometheus.GaugeValue, n.Health.RTT.P99/1000, n.ID)
		}
	}
	for state, k := range byState {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(k), state)
	}
	byKind := map[string]int{}
	for _, a := range s.openAnomalies("", "") {
		byKind[a.Kind]++
	}
	for kind, k := range byKind {
		ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(k), kind)
	}
	ch <- prometheus.MustNewConstMetric(descPanic, prometheus.GaugeValue, b2f(s.panicking.Load()))
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, b2f(s.connected.Load()))
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.Pending()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
