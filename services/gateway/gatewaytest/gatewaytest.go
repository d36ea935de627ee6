// Package gatewaytest runs real gateway nodes in-process for the tests of
// other modules (the client SDK, the healer, the load engine): a config on
// a random loopback port with short intervals, and a node that serves
// until the test ends or its stop function is called.
package gatewaytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// Config is a node on 127.0.0.1:0, auth off, with limits high enough for
// tests and intervals short enough that liveness is seen within a second.
// Change any field before Start.
func Config(natsURL, node string) gateway.Config {
	return gateway.Config{
		NATS:   service.NATS{URL: natsURL, Replicas: 1},
		Node:   node,
		Listen: "127.0.0.1:0",
		Auth:   "none",
		Limits: pool.Limits{
			MaxConns: 2000, AcceptRate: 2000, AcceptBurst: 2000,
			MaxMessage: frame.DefaultMaxSize, InboundBurst: 100, SendQueue: 1024,
			PingInterval: time.Second, PongDeadline: 2 * time.Second,
			IdleTimeout: time.Minute, HandshakeTimeout: 2 * time.Second,
		},
		MaxSubs:           100,
		HeartbeatInterval: 100 * time.Millisecond, HealthInterval: 200 * time.Millisecond,
		DrainOver: 500 * time.Millisecond, DrainTimeout: 2 * time.Second,
		ConnEventRate: 100, ConnEventBurst: 100, Config: channel.Config{ReplayWindow: 256, ReplayStall: 15 * time.Second},
	}
}

// Start runs a node until the test ends and returns once it serves.
func Start(t testing.TB, cfg gateway.Config) *gateway.Service {
	t.Helper()
	s, stop := Run(t, cfg)
	t.Cleanup(stop)
	return s
}

// Run runs a node and returns once it serves; stop ends it cleanly (a
// paced drain bounded by DrainTimeout) and waits for Run to return. For an
// abrupt end, as a crash, call the node's Kill.
func Run(t testing.TB, cfg gateway.Config) (*gateway.Service, func()) {
	t.Helper()
	s, err := gateway.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("gatewaytest: new %s: %v", cfg.Node, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("gatewaytest: run %s: %v", cfg.Node, err)
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatalf("gatewaytest: %s not ready within 15s", cfg.Node)
	}
	var once sync.Once
	return s, func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("gatewaytest: %s did not stop within 20s", cfg.Node)
			}
		})
	}
}
