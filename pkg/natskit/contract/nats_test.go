package contract_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestEnsureIsIdempotent(t *testing.T) {
	s := natstest.Start(t) // ensures once
	_, js := s.JetStream()
	ctx := context.Background()
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	for _, spec := range events.Streams {
		st, err := js.Stream(ctx, spec.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", spec.Name, err)
		}
		if got := st.CachedInfo().Config.Subjects; len(got) != len(spec.Subjects) {
			t.Errorf("%s subjects %v", spec.Name, got)
		}
	}
	for _, b := range events.Buckets {
		if _, err := js.KeyValue(ctx, b.Bucket); err != nil {
			t.Errorf("bucket %s: %v", b.Bucket, err)
		}
	}
}

func TestEmitterDeduplicatesStoredEvents(t *testing.T) {
	s := natstest.Start(t)
	nc, js := s.JetStream()
	ctx := context.Background()
	sub, err := nc.SubscribeSync(events.EventsAll)
	if err != nil {
		t.Fatal(err)
	}
	a := &events.Anomaly{ID: events.AnomalyID(events.KindNodeDown, "gw-1", time.Unix(1, 0)), Kind: events.KindNodeDown,
		State: events.AnomalyOpen, Target: "gw-1", Severity: events.SeverityCritical, DetectedAt: time.Now()}
	// Two replicas emit the same anomaly.
	for _, src := range []string{"m1", "m2"} {
		em := events.NewEmitter(nc, js, events.Source(events.ServiceMonitor, src))
		if _, err := em.Emit(ctx, events.AnomalySubject(a.Kind, a.Target), a); err != nil {
			t.Fatal(err)
		}
	}
	st, err := js.Stream(ctx, events.StreamAnomalies)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stored %d anomalies, want 1", info.State.Msgs)
	}
	msg, err := sub.NextMsg(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.Decode(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Nats-Msg-Id") != ev.ID {
		t.Fatalf("Nats-Msg-Id %q, event id %q", msg.Header.Get("Nats-Msg-Id"), ev.ID)
	}
	// A heartbeat goes over core NATS and is not stored.
	em := events.NewEmitter(nc, js, events.Source(events.ServiceGateway, "gw-1"))
	if _, err := em.Emit(ctx, events.HeartbeatSubject("gw-1"), &events.Heartbeat{Node: "gw-1", URL: "u", IntervalMS: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(time.Second); err != nil {
		t.Fatalf("heartbeat not seen on %s: %v", events.EventsAll, err)
	}
}

func TestControlRequestReply(t *testing.T) {
	s := natstest.Start(t)
	nc := s.Conn()
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName("test"), Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	g := svc.AddGroup(events.ControlGroup("test"))
	err = g.AddEndpoint(events.VerbDrain, micro.HandlerFunc(func(req micro.Request) {
		var cmd events.DrainCommand
		if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
			events.RespondError(req, err)
			return
		}
		if cmd.Target == "nope" {
			events.RespondError(req, events.Errorf(events.CodeNotFound, "no node %s", cmd.Target))
			return
		}
		events.Respond(req, events.DrainReply{Connections: 7, OverMS: cmd.OverMS})
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subj := events.ControlSubject("test", events.VerbDrain)

	var rep events.DrainReply
	if err := events.Request(ctx, nc, subj, events.DrainCommand{ID: "c1", OverMS: 50}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Connections != 7 || rep.OverMS != 50 {
		t.Fatalf("reply %+v", rep)
	}
	var ce *events.Error
	err = events.Request(ctx, nc, subj, map[string]any{"over_ms": 5}, nil)
	if !errors.As(err, &ce) || ce.Code != events.CodeBadRequest {
		t.Fatalf("missing id: err = %v", err)
	}
	err = events.Request(ctx, nc, subj, events.DrainCommand{ID: "c2", Target: "nope"}, nil)
	if !errors.As(err, &ce) || ce.Code != events.CodeNotFound {
		t.Fatalf("not found: err = %v", err)
	}
	msg, err := nc.Request(subj, []byte("{{{"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(micro.ErrorCodeHeader) != "400" {
		t.Fatalf("error code header %q", msg.Header.Get(micro.ErrorCodeHeader))
	}
	err = events.Request(ctx, nc, events.ControlSubject("absent", "status"), nil, nil)
	if !errors.Is(err, events.ErrNoResponders) {
		t.Fatalf("absent service: err = %v", err)
	}
}
