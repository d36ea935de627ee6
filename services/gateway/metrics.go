package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/pool"
	"github.com/wsheal/wsheal/services/gateway/session"
)

// metrics is the node's Prometheus registry. Counters that the pool keeps
// are read from it at scrape time, so the health snapshot and /metrics
// never disagree.
type metrics struct {
	reg          *prometheus.Registry
	rtt          prometheus.Histogram
	authFailures prometheus.Counter
	protoErrors  prometheus.Counter
	refused      *prometheus.CounterVec
	subscribe    *prometheus.HistogramVec
	resumes      *prometheus.CounterVec
	lifetime     *prometheus.HistogramVec
	errorsIv     atomic.Int64 // protocol errors since the last health snapshot

	log    zerolog.Logger // connection ends (event conn_end, conn_ends)
	endLog *rate.Limiter  // sampled conn_end lines
	endsMu sync.Mutex
	ends   map[string]events.ConnEnds // since the last health snapshot, by cause
}

// endLogRate bounds the conn_end log lines a second (a burst of 100).
const endLogRate = 20

func newMetrics(log zerolog.Logger) *metrics {
	m := &metrics{
		log:    log,
		endLog: rate.NewLimiter(endLogRate, 100),
		ends:   map[string]events.ConnEnds{},
		reg:    prometheus.NewRegistry(),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wsheal_gateway_rtt_seconds", Help: "Round trip of server pings.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wsheal_gateway_auth_failures_total", Help: "Upgrades refused for a missing, invalid or expired token."}),
		protoErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wsheal_gateway_protocol_errors_total", Help: "Bad client frames and failed channel operations."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wsheal_gateway_edge_refused_total", Help: "Requests refused at the edge (403 origin, 429 peer limits, 500 handler panic), by reason."},
			[]string{"reason"}),
	}
	m.subscribe = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wsheal_gateway_subscribe_seconds", Help: "Time to answer a subscribe, by resume (true: with since, its replay included) and result (ok or error).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"resume", "result"})
	m.resumes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wsheal_gateway_resume_results_total", Help: "Resumes answered, by recovered (false: the gap could not be replayed, the client lost messages)."},
		[]string{"recovered"})
	m.lifetime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wsheal_gateway_connection_lifetime_seconds", Help: "Age of connections when they closed, by close cause.",
		Buckets: events.LifetimeBounds}, []string{"cause"})
	for _, r := range []string{refusedOrigin, refusedConns, refusedRate, refusedAuth, refusedPeers, refusedInternal} {
		m.refused.WithLabelValues(r)
	}
	for _, r := range []string{"true", "false"} {
		m.resumes.WithLabelValues(r)
	}
	for _, cause := range closeCauses {
		m.lifetime.WithLabelValues(cause)
	}
	m.reg.MustRegister(m.rtt, m.authFailures, m.protoErrors, m.refused, m.subscribe, m.resumes, m.lifetime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeRTT(d time.Duration) { m.rtt.Observe(d.Seconds()) }

func (m *metrics) protocolError() {
	m.protoErrors.Inc()
	m.errorsIv.Add(1)
}

func (m *metrics) refuse(reason string) { m.refused.WithLabelValues(reason).Inc() }

func (m *metrics) takeErrors() int { return int(m.errorsIv.Swap(0)) }

// register adds the gauges and counters read from the pool and the hub.
func (m *metrics) register(s *Service) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wsheal_gateway_" + name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wsheal_gateway_" + name, Help: help}, f)
	}
	tot := func(pick func(t pool.Totals) uint64) func() float64 {
		return func() float64 { return float64(pick(s.pool.Totals())) }
	}
	m.reg.MustRegister(
		gauge("connections", "Open client connections.", func() float64 { return float64(s.pool.Len()) }),
		gauge("capacity", "Connection cap in force.", func() float64 { return float64(s.pool.Capacity()) }),
		gauge("draining", "1 while draining.", func() float64 { return b2f(s.pool.Draining()) }),
		gauge("send_backlog", "Frames queued to clients and not yet written.", func() float64 { return float64(s.pool.Totals().Backlog) }),
		gauge("channels", "Channels with local subscribers.", func() float64 { return float64(s.hub.Stats().Channels) }),
		counter("connections_opened_total", "Connections upgraded.", tot(func(t pool.Totals) uint64 { return t.Opened })),
		counter("connections_rejected_total", "Upgrades refused by admission (503).", tot(func(t pool.Totals) uint64 { return t.Rejected })),
		counter("stale_total", "Connections closed for a missed pong deadline.", tot(func(t pool.Totals) uint64 { return t.Stale })),
		counter("evicted_total", "Idle connections evicted.", tot(func(t pool.Totals) uint64 { return t.Evicted })),
		counter("slow_consumers_total", "Connections closed with a full send queue.", tot(func(t pool.Totals) uint64 { return t.Slow })),
		counter("messages_in_total", "Frames received from clients.", tot(func(t pool.Totals) uint64 { return t.MsgsIn })),
		counter("messages_out_total", "Channel messages queued to clients.", tot(func(t pool.Totals) uint64 { return t.MsgsOut })),
		counter("errors_total", "Connections closed by an error.", tot(func(t pool.Totals) uint64 { return t.Errors })),
		counter("handler_panics_total", "Protocol handler panics, each of which closed its connection (1011).", tot(func(t pool.Totals) uint64 { return t.Panics })),
		counter("memory_shed_total", "Upgrades refused and connections closed by the memory budget.", tot(func(t pool.Totals) uint64 { return t.Shed })),
		gauge("send_backlog_bytes", "Bytes queued to clients and not yet written.", func() float64 { return float64(s.pool.Totals().BacklogBytes) }),
		gauge("sockets", "Accepted sockets open (WebSocket and HTTP).", func() float64 { return float64(s.sockets.Open()) }),
		counter("sockets_refused_total", "Sockets closed at accept, over MAX_SOCKETS or SOCKETS_PER_IP.", func() float64 { return float64(s.sockets.Refused()) }),
		gauge("peers", "Client addresses tracked by the per-address limits.", func() float64 { return float64(s.limits.Len()) }),
	)
	closed := prometheus.NewDesc("wsheal_gateway_connections_closed_total", "Connections closed, by cause.", []string{"cause"}, nil)
	m.reg.MustRegister(&closedCollector{desc: closed, s: s})
}

// registerDataPlane exports the hub's counters and the channel stream as
// last read by the health loop.
func (m *metrics) registerDataPlane(s *Service) {
	counter := func(name, help string, pick func(channel.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wsheal_gateway_" + name, Help: help},
			func() float64 { return float64(pick(s.hub.Stats())) })
	}
	stream := func(name, help string, pick func(channel.StreamStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wsheal_gateway_" + name, Help: help}, func() float64 {
			if st := s.stream.Load(); st != nil {
				return pick(*st)
			}
			return 0
		})
	}
	m.reg.MustRegister(
		counter("subscribes_total", "Subscribes answered with a reply.", func(t channel.Stats) uint64 { return t.Subscribes }),
		counter("subscribe_errors_total", "Subscribes that failed on the node's side (NATS or JetStream unavailable).", func(t channel.Stats) uint64 { return t.SubscribeErrors }),
		counter("publishes_total", "Publishes stored (duplicates included).", func(t channel.Stats) uint64 { return t.Publishes }),
		counter("publish_errors_total", "Publishes that failed on the node's side.", func(t channel.Stats) uint64 { return t.PublishErrors }),
		counter("resumes_total", "Subscribes with since.", func(t channel.Stats) uint64 { return t.Resumes }),
		counter("resumes_not_recovered_total", "Resumes answered recovered:false.", func(t channel.Stats) uint64 { return t.NotRecovered }),
		counter("replayed_messages_total", "Messages delivered by resumes.", func(t channel.Stats) uint64 { return t.Replayed }),
		counter("replayed_bytes_total", "Bytes of msg frames delivered by resumes.", func(t channel.Stats) uint64 { return t.ReplayedBytes }),
		counter("live_gaps_total", "Holes in the live flow detected and filled from the stream.", func(t channel.Stats) uint64 { return t.Gaps }),
		counter("live_filled_total", "Messages read from the stream to fill live holes.", func(t channel.Stats) uint64 { return t.Filled }),
		counter("channel_page_reads_total", "Batch direct gets of the channel stream (replays and fills).", func(t channel.Stats) uint64 { return t.PageReads }),
		counter("channel_page_shares_total", "Replay pages taken from another replay's read of the same channel and position.", func(t channel.Stats) uint64 { return t.PageShares }),
		counter("channel_positions_marked_total", "Pos frames sent: a quiet channel's subscriber moved to a verified stream watermark.", func(t channel.Stats) uint64 { return t.Marked }),
		counter("replay_read_retries_total", "Replay reads (a page, the stream's state) NATS did not answer in time, tried again.", func(t channel.Stats) uint64 { return t.ReplayRetries }),
		counter("replay_stalls_total", "Resumes whose replay made no progress for REPLAY_STALL and ended for it: closed 4002 (the client read nothing), error unavailable (NATS did not answer) or recovered:false (the stream no longer held what the live flow had handed on).", func(t channel.Stats) uint64 { return t.ReplayStalls }),
		counter("channel_subscribers_dropped_total", "Subscribers dropped from a channel for a full send queue.", func(t channel.Stats) uint64 { return t.Dropped }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wsheal_gateway_channel_subscribers", Help: "Channel subscriptions on this node."},
			func() float64 { return float64(s.hub.Stats().Subscribers) }),
		stream("channel_stream_bytes", "Bytes held by the channel stream.", func(st channel.StreamStats) float64 { return float64(st.Bytes) }),
		stream("channel_stream_max_bytes", "Byte limit of the channel stream.", func(st channel.StreamStats) float64 { return float64(st.MaxBytes) }),
		stream("channel_stream_consumers", "Consumers on the channel stream (the live path creates none).", func(st channel.StreamStats) float64 { return float64(st.Consumers) }),
	)
}

// closedCollector exports closes by cause.
type closedCollector struct {
	desc *prometheus.Desc
	s    *Service
}

// Describe implements prometheus.Collector.
func (c *closedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *closedCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.s.pool.Totals()
	for _, cause := range closeCauses {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(t.Closed[cause]), cause)
	}
}

// closeCauses are the causes a close is counted under.
var closeCauses = []string{events.CauseClient, events.CauseStale, events.CauseIdle,
	events.CauseSlow, events.CauseDrained, events.CauseError}

// timedHub times every subscribe and counts resumes by outcome.
type timedHub struct {
	session.Hub
	m *metrics
}

// Subscribe implements session.Hub.
func (h timedHub) Subscribe(ctx context.Context, ch string, sub channel.Subscriber, since *channel.Position) (channel.SubscribeResult, error) {
	start := time.Now()
	r, err := h.Hub.Subscribe(ctx, ch, sub, since)
	result := "ok"
	if err != nil {
		result = "error"
	}
	h.m.subscribe.WithLabelValues(boolLabel(since != nil), result).Observe(time.Since(start).Seconds())
	if since != nil && err == nil {
		h.m.resumes.WithLabelValues(boolLabel(r.Recovered)).Inc()
	}
	return r, err
}

// timedConns records every connection's end: its age in the lifetime
// histogram, its age and messages in the interval's ends by cause (the
// health snapshot's Ends), and, for a sample of at most endLogRate ends
// a second, a structured log line.
type timedConns struct {
	pool.Handler
	m *metrics
}

// Close implements pool.Handler.
func (h timedConns) Close(c *pool.Conn, cause string) {
	age := c.Info(time.Now(), false).AgeMS
	in, out := c.Msgs()
	h.m.lifetime.WithLabelValues(cause).Observe(float64(age) / 1000)
	h.m.endsMu.Lock()
	e := h.m.ends[cause]
	e.Add(age, in, out)
	h.m.ends[cause] = e
	h.m.endsMu.Unlock()
	if h.m.endLog.Allow() {
		h.m.log.Info().Str("event", "conn_end").Str("conn", c.ID()).Str("cause", cause).Int64("age_ms", age).
			Uint64("msgs_in", in).Uint64("msgs_out", out).Msg("connection ended")
	}
	h.Handler.Close(c, cause)
}

// takeEnds returns the ends since the last call and starts a new
// interval; it logs them as one line (every end counted, none sampled).
func (m *metrics) takeEnds() map[string]events.ConnEnds {
	m.endsMu.Lock()
	ends := m.ends
	m.ends = map[string]events.ConnEnds{}
	m.endsMu.Unlock()
	if len(ends) == 0 {
		return nil
	}
	ev := m.log.Info().Str("event", "conn_ends")
	for cause, e := range ends {
		ev = ev.Dict(cause, zerolog.Dict().Int("count", e.Count).Int64("age_ms_sum", e.AgeMS).
			Float64("age_p50_s", e.Quantile(0.5)).Uint64("msgs_in", e.MsgsIn).Uint64("msgs_out", e.MsgsOut))
	}
	ev.Msg("connection ends in the interval")
	return ends
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
