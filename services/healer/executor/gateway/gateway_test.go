package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/executor/gateway"
)

func TestCommandsReachTheNode(t *testing.T) {
	srv := natstest.Start(t)
	c := gateway.New(srv.Conn(), time.Second)
	ctx := context.Background()
	if _, err := c.Status(ctx, "n1"); !errors.Is(err, events.ErrNoResponders) || !errors.Is(err, gateway.ErrCommand) {
		t.Fatalf("no node: %v", err)
	}
	peer := srv.Conn()
	svc, err := micro.AddService(peer, micro.Config{Name: events.ServiceName(events.ServiceGateway), Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.Stop() }()
	g := svc.AddGroup(events.GatewayControlGroup("n1"))
	var got events.ReconnectCommand
	_ = g.AddEndpoint(events.VerbReconnect, micro.HandlerFunc(func(req micro.Request) {
		if err := events.DecodeCommand(req.Data(), &got); err != nil {
			events.RespondError(req, err)
			return
		}
		events.Respond(req, events.ReconnectReply{Selected: got.Count})
	}))
	if err := peer.Flush(); err != nil {
		t.Fatal(err)
	}
	n, err := c.Move(ctx, "m1", "n1", "n2", 5, 2*time.Second)
	if err != nil || n != 5 || got.Target != "n2" || got.Select != events.SelectAll || got.OverMS != 2000 || got.ID != "m1" {
		t.Fatalf("move: %d %v %+v", n, err, got)
	}
	cases := []struct {
		name string
		call func() error
	}{
		{"node with a dot", func() error { _, err := c.Status(ctx, "a.b"); return err }},
		{"reconnect without a selection", func() error {
			_, err := c.Reconnect(ctx, "n1", events.ReconnectCommand{ID: "x"})
			return err
		}},
		{"drain without an id", func() error { _, err := c.Drain(ctx, "n1", events.DrainCommand{}); return err }},
		{"resize of nothing", func() error { _, err := c.Resize(ctx, "n1", events.ResizeCommand{ID: "x"}); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, gateway.ErrCommand) || errors.Is(err, events.ErrNoResponders) {
				t.Fatalf("want a local refusal, got %v", err)
			}
		})
	}
}
