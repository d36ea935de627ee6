package system_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/client"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/embedded"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// Example is pkg/client's example run against a real gateway: it
// subscribes to a channel and publishes to it through a gateway. It starts
// NATS and one gateway in process; a real program only needs the gateway
// URLs (or a discovery URL) in client.Config.
func Example() {
	url, stop := startGateway()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		URLs: []string{url},
		OnState: func(s client.State) {
			if s.Kind == client.Reconnecting {
				fmt.Fprintln(os.Stderr, s) // or a metric
			}
		},
		OnGap: func(g client.Gap) { fmt.Println("messages may be missing after", g.After) },
	})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()

	got := make(chan client.Message, 1)
	if _, err := c.Subscribe(ctx, "greetings", func(m client.Message) { got <- m }); err != nil {
		fmt.Println("subscribe:", err)
		return
	}
	ack, err := c.Publish(ctx, "greetings", []byte(`{"text":"hello"}`))
	if err != nil {
		fmt.Println("publish:", err)
		return
	}
	m := <-got
	fmt.Println(m.Channel, string(m.Data), m.Seq == ack.Seq)
	// Output: greetings {"text":"hello"} true
}

// startGateway runs an embedded NATS server and a gateway node.
func startGateway() (url string, stop func()) {
	dir, _ := os.MkdirTemp("", "wsheal-example")
	ns, err := embedded.Start(embedded.Options{Port: -1, StoreDir: dir})
	if err != nil {
		panic(err)
	}
	gw, err := gateway.New(gateway.Config{
		NATS: service.NATS{URL: ns.ClientURL(), Replicas: 1}, Node: "example",
		Listen: "127.0.0.1:0", Auth: "none", MaxSubs: 10,
		Limits: pool.Limits{MaxConns: 100, AcceptRate: 100, AcceptBurst: 100,
			MaxMessage: 64 << 10, InboundRate: 100, InboundBurst: 100, SendQueue: 256,
			PingInterval: 5 * time.Second, PongDeadline: 5 * time.Second, IdleTimeout: time.Minute,
			HandshakeTimeout: 5 * time.Second},
		HeartbeatInterval: time.Second, HealthInterval: 5 * time.Second,
		DrainOver: time.Second, DrainTimeout: 5 * time.Second, ConnEventRate: 5, ConnEventBurst: 20,
		Config: channel.Config{ReplayWindow: 64, ReplayStall: 15 * time.Second},
	}, zerolog.Nop())
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	select {
	case <-gw.Ready():
	case err := <-done:
		panic(err)
	}
	return gw.URL(), func() {
		cancel()
		<-done
		ns.Shutdown()
		ns.WaitForShutdown()
		_ = os.RemoveAll(dir)
	}
}
