package tracing_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// record installs a provider that keeps every ended span in memory.
func record(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	tracing.Install()
	t.Cleanup(func() {
		events.SetTracer(nil)
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	})
	return rec
}

func spanNamed(rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func anomaly() *events.Anomaly {
	now := time.Now().UTC()
	return &events.Anomaly{ID: events.AnomalyID(events.KindNodeDown, "gw-1", now), Kind: events.KindNodeDown,
		State: events.AnomalyOpen, Target: "gw-1", Severity: events.SeverityCritical, DetectedAt: now, ImpactStart: now}
}

// An event published inside a span carries traceparent through JetStream;
// the consumer's span is the child of the publish span, in one trace.
func TestTraceRidesAStoredEvent(t *testing.T) {
	rec := record(t)
	s := natstest.Start(t)
	nc, js := s.JetStream()
	ctx := context.Background()
	em := events.NewEmitter(nc, js, events.Source(events.ServiceMonitor, "m1"))

	rctx, endRaise := events.StartSpan(ctx, "anomaly node_down")
	a := anomaly()
	if _, err := em.Emit(rctx, events.AnomalySubject(a.Kind, a.Target), a); err != nil {
		t.Fatal(err)
	}
	endRaise(nil)

	st, err := js.Stream(ctx, events.StreamAnomalies)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetLastMsgForSubject(ctx, events.AnomalySubject(a.Kind, a.Target))
	if err != nil {
		t.Fatal(err)
	}
	tp := raw.Header.Get("traceparent")
	if tp == "" {
		t.Fatalf("stored message has no traceparent: %v", raw.Header)
	}
	_, endConsume := events.StartConsume(ctx, "decide", raw.Header)
	endConsume(nil)

	raise, pub, dec := spanNamed(rec, "anomaly node_down"), spanNamed(rec, "publish "+a.EventType()), spanNamed(rec, "decide")
	if raise == nil || pub == nil || dec == nil {
		t.Fatalf("spans missing: raise %v publish %v decide %v", raise != nil, pub != nil, dec != nil)
	}
	if pub.Parent().SpanID() != raise.SpanContext().SpanID() {
		t.Errorf("publish span's parent is not the raise span")
	}
	if dec.Parent().SpanID() != pub.SpanContext().SpanID() || !dec.Parent().IsRemote() {
		t.Errorf("decide span's parent %v, want the remote publish span %v", dec.Parent().SpanID(), pub.SpanContext().SpanID())
	}
	if dec.SpanContext().TraceID() != raise.SpanContext().TraceID() {
		t.Errorf("two traces: %v and %v", raise.SpanContext().TraceID(), dec.SpanContext().TraceID())
	}
	if dec.SpanKind() != trace.SpanKindConsumer || pub.SpanKind() != trace.SpanKindProducer {
		t.Errorf("kinds: publish %v, decide %v", pub.SpanKind(), dec.SpanKind())
	}
	if want := "00-" + raise.SpanContext().TraceID().String() + "-" + pub.SpanContext().SpanID().String() + "-01"; tp != want {
		t.Errorf("traceparent %q, want %q", tp, want)
	}
}

// A control request made inside a span carries its context to the
// handler's server span over a real request-reply.
func TestTraceRidesAControlRequest(t *testing.T) {
	rec := record(t)
	s := natstest.Start(t)
	nc := s.Conn()
	svc, err := micro.AddService(nc, micro.Config{Name: "trace-test", Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.Stop() }()
	var seen string
	err = svc.AddGroup(events.ControlGroup("tt")).AddEndpoint("poke", events.TraceHandler("tt poke", func(req micro.Request) {
		seen = req.Headers().Get("traceparent")
		events.Respond(req, map[string]bool{"poked": true})
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, end := events.StartSpan(context.Background(), "decide")
	var out map[string]bool
	if err := events.Request(ctx, nc, events.ControlSubject("tt", "poke"), events.Empty{}, &out); err != nil || !out["poked"] {
		t.Fatalf("request: %v %v", err, out)
	}
	end(nil)
	natstest.Eventually(t, 5*time.Second, func() bool { return spanNamed(rec, "tt poke") != nil }, "no server span")
	dec, cli, srv := spanNamed(rec, "decide"), spanNamed(rec, "request "+events.ControlSubject("tt", "poke")), spanNamed(rec, "tt poke")
	if dec == nil || cli == nil {
		t.Fatal("decide or request span missing")
	}
	if seen == "" {
		t.Fatal("the request carried no traceparent")
	}
	if cli.Parent().SpanID() != dec.SpanContext().SpanID() || srv.Parent().SpanID() != cli.SpanContext().SpanID() {
		t.Errorf("links: request's parent %v (decide %v), server's parent %v (request %v)",
			cli.Parent().SpanID(), dec.SpanContext().SpanID(), srv.Parent().SpanID(), cli.SpanContext().SpanID())
	}
	if srv.SpanKind() != trace.SpanKindServer || cli.SpanKind() != trace.SpanKindClient {
		t.Errorf("kinds: request %v, server %v", cli.SpanKind(), srv.SpanKind())
	}
}

// Outside a trace nothing is added to a message: a heartbeat carries no
// traceparent and no span is recorded for it.
func TestNoTraceNoHeader(t *testing.T) {
	rec := record(t)
	s := natstest.Start(t)
	nc, js := s.JetStream()
	sub, err := nc.SubscribeSync(events.AnomaliesAll)
	if err != nil {
		t.Fatal(err)
	}
	em := events.NewEmitter(nc, js, events.Source(events.ServiceMonitor, "m1"))
	a := anomaly()
	if _, err := em.Emit(context.Background(), events.AnomalySubject(a.Kind, a.Target), a); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v := m.Header.Get("traceparent"); v != "" {
		t.Errorf("traceparent %q outside a trace", v)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded outside a trace", n)
	}
}

// A malformed traceparent is ignored: the consumer starts a new trace.
func TestBadTraceparentStartsANewTrace(t *testing.T) {
	rec := record(t)
	for _, v := range []string{"", "garbage", "00-00000000000000000000000000000000-0000000000000000-01", "ff-" + string(make([]byte, 60))} {
		_, end := events.StartConsume(context.Background(), "decide", nats.Header{"traceparent": {v}})
		end(nil)
	}
	for _, s := range rec.Ended() {
		if s.Parent().IsValid() {
			t.Errorf("span %s took a parent from a bad header", s.Name())
		}
	}
	if len(rec.Ended()) != 4 {
		t.Errorf("%d spans, want 4", len(rec.Ended()))
	}
}

// A control request outside any trace (a status poll) records no span.
func TestUntracedRequestNoServerSpan(t *testing.T) {
	rec := record(t)
	s := natstest.Start(t)
	nc := s.Conn()
	svc, err := micro.AddService(nc, micro.Config{Name: "trace-test", Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.Stop() }()
	err = svc.AddGroup(events.ControlGroup("tt")).AddEndpoint("poke", events.TraceHandler("tt poke", func(req micro.Request) {
		events.Respond(req, map[string]bool{"poked": true})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Request(context.Background(), nc, events.ControlSubject("tt", "poke"), events.Empty{}, nil); err != nil {
		t.Fatal(err)
	}
	// A traced request next: the endpoint handles requests in order, so
	// once its span has ended the untraced one's would have too.
	ctx, end := events.StartSpan(context.Background(), "decide")
	if err := events.Request(ctx, nc, events.ControlSubject("tt", "poke"), events.Empty{}, nil); err != nil {
		t.Fatal(err)
	}
	end(nil)
	natstest.Eventually(t, 5*time.Second, func() bool { return spanNamed(rec, "tt poke") != nil }, "no server span for the traced request")
	n := 0
	for _, s := range rec.Ended() {
		if s.Name() == "tt poke" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d server spans, want 1: the untraced request got one", n)
	}
}

// service.Work runs its handler inside a consumer span that continues the
// trace the stored message carries: what the handler publishes with its
// ctx is a grandchild of the original publish.
func TestWorkContinuesTheTrace(t *testing.T) {
	rec := record(t)
	s := natstest.Start(t)
	nc, js := s.JetStream()
	em := events.NewEmitter(nc, js, events.Source(events.ServiceMonitor, "m1"))
	ctx, end := events.StartSpan(context.Background(), "anomaly open node_down")
	a := anomaly()
	if _, err := em.Emit(ctx, events.AnomalySubject(a.Kind, a.Target), a); err != nil {
		t.Fatal(err)
	}
	end(nil)

	healer := events.NewEmitter(nc, js, events.Source(events.ServiceHealer, "h1"))
	handled := make(chan struct{}, 1)
	wctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		_ = service.Work{Stream: events.StreamAnomalies, Durable: "trace-test", Filter: events.AnomaliesAll,
			AckWait: 5 * time.Second, MaxInFlight: 1, Replay: time.Hour}.Run(wctx, js, func(ctx context.Context, msg jetstream.Msg) service.Outcome {
			r := &events.Remediation{ID: "r1", AnomalyID: a.ID, Action: events.ActionRestart, Target: "gw-1", Phase: events.PhaseStarted}
			if _, err := healer.Emit(ctx, events.RemediationSubject(r.Action, r.Target), r); err != nil {
				t.Error(err)
			}
			select {
			case handled <- struct{}{}:
			default:
			}
			return service.Ack()
		}, zerolog.Nop())
	}()
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the work consumer never handled the anomaly")
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return spanNamed(rec, "process trace-test") != nil }, "no process span")
	pub, proc, out := spanNamed(rec, "publish "+events.TypeAnomaly), spanNamed(rec, "process trace-test"), spanNamed(rec, "publish "+events.TypeRemediation)
	if pub == nil || out == nil {
		t.Fatal("publish spans missing")
	}
	if proc.Parent().SpanID() != pub.SpanContext().SpanID() || out.Parent().SpanID() != proc.SpanContext().SpanID() {
		t.Errorf("links: process's parent %v (publish %v), remediation's parent %v (process %v)",
			proc.Parent().SpanID(), pub.SpanContext().SpanID(), out.Parent().SpanID(), proc.SpanContext().SpanID())
	}
	if proc.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("process span kind %v", proc.SpanKind())
	}
}
