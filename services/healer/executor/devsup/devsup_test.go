package devsup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/executor/devsup"
)

func TestRestartAsksTheSupervisor(t *testing.T) {
	srv := natstest.Start(t)
	nc := srv.Conn()
	c := devsup.New(nc, time.Second)
	if _, err := c.Restart(context.Background(), "id1", "n1"); !errors.Is(err, events.ErrNoResponders) {
		t.Fatalf("no supervisor: want ErrNoResponders, got %v", err)
	}
	peer := srv.Conn()
	svc, err := micro.AddService(peer, micro.Config{Name: events.ServiceName(events.ServiceDev), Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.Stop() }()
	err = svc.AddGroup(events.ControlGroup(events.ServiceDev)).AddEndpoint(events.VerbRestart, micro.HandlerFunc(func(req micro.Request) {
		var cmd events.RestartCommand
		if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
			events.RespondError(req, err)
			return
		}
		if cmd.Node == "unknown" {
			events.RespondError(req, events.Errorf(events.CodeNotFound, "no process %s", cmd.Node))
			return
		}
		events.Respond(req, events.RestartReply{Process: events.Process{Name: cmd.Node, PID: 7, Running: true}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Flush(); err != nil {
		t.Fatal(err)
	}
	p, err := c.Restart(context.Background(), "id1", "n1")
	if err != nil || p.PID != 7 || p.Name != "n1" {
		t.Fatalf("restart: %+v %v", p, err)
	}
	var ce *events.Error
	if _, err := c.Restart(context.Background(), "id2", "unknown"); !errors.As(err, &ce) || ce.Code != events.CodeNotFound {
		t.Fatalf("want not_found, got %v", err)
	}
	if _, err := c.Restart(context.Background(), "", "n1"); !errors.Is(err, devsup.ErrRestart) {
		t.Fatalf("an id-less restart was sent: %v", err)
	}
}
