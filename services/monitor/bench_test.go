package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor/ledger"
)

// BenchmarkFleetSecond measures the monitor's work for one second of a
// fleet of nodes: one heartbeat per node, a health snapshot from a fifth
// of them (5 s interval) and four ticks. It reports the CPU share one
// monitor needs for that fleet.
func BenchmarkFleetSecond(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			srv := natstest.Start(b)
			cfg, err := ConfigFromEnv()
			if err != nil {
				b.Fatal(err)
			}
			s, err := New(cfg, zerolog.Nop())
			if err != nil {
				b.Fatal(err)
			}
			s.nc, s.ledger = srv.Conn(), ledger.New(nil, nil, zerolog.Nop())
			beats, snaps := make([]*nats.Msg, size), make([]*nats.Msg, size)
			for i := range size {
				node := fmt.Sprintf("gw%d", i)
				beats[i] = encode(b, events.HeartbeatSubject(node), &events.Heartbeat{Node: node, URL: "ws://127.0.0.1:1/ws", IntervalMS: 1000, Connections: 100, Capacity: 1000})
				snaps[i] = encode(b, events.HealthSubject(node), &events.Health{Node: node, IntervalMS: 5000, Connections: 100, Capacity: 1000,
					RTT: events.RTT{P99: 10, Samples: 100}})
			}
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N; n++ {
				now := time.Now()
				for i := range size {
					s.onMsg(ctx, beats[i], now)
					if (i+n)%5 == 0 {
						s.onMsg(ctx, snaps[i], now)
					}
				}
				for range 4 {
					s.tick(ctx)
				}
			}
			b.ReportMetric(100*time.Since(start).Seconds()/float64(b.N), "%cpu")
		})
	}
}

func encode(b *testing.B, subject string, p events.Payload) *nats.Msg {
	data, err := events.New("/wsheal/gateway/x", subject, p).Encode()
	if err != nil {
		b.Fatal(err)
	}
	return &nats.Msg{Subject: subject, Data: data}
}
