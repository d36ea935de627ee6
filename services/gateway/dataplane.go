package gateway

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/gateway/channel"
)

// dataPlane is the channel-traffic part of a health snapshot: the hub's
// counters over the interval (prev to cur), its gauges, and the channel
// stream and JetStream account as read now (one stream info, one account
// info; a read that fails leaves its fields 0).
func (s *Service) dataPlane(ctx context.Context, prev, cur channel.Stats) events.DataPlane {
	d := func(a, b uint64) int { return int(b - a) }
	dp := events.DataPlane{
		Subscribes: d(prev.Subscribes, cur.Subscribes), SubscribeErrors: d(prev.SubscribeErrors, cur.SubscribeErrors),
		Publishes: d(prev.Publishes, cur.Publishes), PublishErrors: d(prev.PublishErrors, cur.PublishErrors),
		Resumes: d(prev.Resumes, cur.Resumes), NotRecovered: d(prev.NotRecovered, cur.NotRecovered),
		Replayed: d(prev.Replayed, cur.Replayed), Channels: cur.Channels,
	}
	ctx, cancel := context.WithTimeout(ctx, min(s.cfg.HealthInterval/2, healthReadTimeout))
	defer cancel()
	if st, err := s.hub.StreamStats(ctx); err == nil {
		dp.StreamBytes, dp.StreamMaxBytes, dp.Consumers = st.Bytes, st.MaxBytes, st.Consumers
		s.stream.Store(&st)
	}
	if acct, err := s.js.AccountInfo(ctx); err == nil {
		dp.StoreUsed = acct.Store
		dp.StoreLimit = max(acct.Limits.MaxStore, 0)        // -1: none known
		dp.ConsumerLimit = max(acct.Limits.MaxConsumers, 0) // -1: none known
	}
	return dp
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
		counter("channel_subscribers_dropped_total", "Subscribers dropped from a channel for a full send queue.", func(t channel.Stats) uint64 { return t.Dropped }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wsheal_gateway_channel_subscribers", Help: "Channel subscriptions on this node."},
			func() float64 { return float64(s.hub.Stats().Subscribers) }),
		stream("channel_stream_bytes", "Bytes held by the channel stream.", func(st channel.StreamStats) float64 { return float64(st.Bytes) }),
		stream("channel_stream_max_bytes", "Byte limit of the channel stream.", func(st channel.StreamStats) float64 { return float64(st.MaxBytes) }),
		stream("channel_stream_consumers", "Consumers on the channel stream (the live path creates none).", func(st channel.StreamStats) float64 { return float64(st.Consumers) }),
	)
}

// healthReadTimeout bounds the stream and account reads of one snapshot
// when the health interval is long.
const healthReadTimeout = 2 * time.Second
