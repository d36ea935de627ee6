package client_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// Example subscribes to a channel and publishes to it through a gateway.
// URLs are the gateway nodes' WebSocket endpoints (or set Discovery to a
// gateway's /v1/connect). It needs running gateways, so it is compiled
// here, not run; test/system runs the same code against a real gateway on
// an embedded NATS server and checks its output:
//
//	greetings {"text":"hello"} true
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		URLs: []string{"ws://gw-1.example.com:8080/ws", "ws://gw-2.example.com:8080/ws"},
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
}
