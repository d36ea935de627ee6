package monitor

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/monitor/ledger"
)

// Whatever arrives on the gateway subjects, the monitor neither panics
// nor stops: events are decoded, checked against their subject, and fed
// to the view and the detectors.
func FuzzOnMsg(f *testing.F) {
	seed := func(subject string, p events.Payload) {
		b, err := events.New("/wsheal/gateway/gw1", subject, p).Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(subject, b)
	}
	seed(events.HeartbeatSubject("gw1"), &events.Heartbeat{Node: "gw1", URL: "ws://127.0.0.1:1/ws", IntervalMS: 1000, Connections: 5, Capacity: 10})
	seed(events.HealthSubject("gw1"), &events.Health{Node: "gw1", IntervalMS: 5000, Stale: 9, Connections: 1, RTT: events.RTT{P99: 1e9, Samples: 1e6}})
	seed(events.LifecycleSubject("gw1"), &events.Lifecycle{Node: "gw1", Phase: events.LifecycleStopping})
	seed(events.ConnSubject("gw1"), &events.ConnEvent{Node: "gw1", Kind: events.ConnStale, Suppressed: -5})
	seed(events.HealthSubject("gw2"), &events.Health{Node: "gw1", IntervalMS: 1})

	cfg, err := ConfigFromEnv()
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(cfg, zerolog.Nop())
	if err != nil {
		f.Fatal(err)
	}
	s.ledger = ledger.New(nil, nil, zerolog.Nop())
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		s.onMsg(context.Background(), &nats.Msg{Subject: subject, Data: data}, time.Now())
		_ = s.FleetStatus("")
	})
}
