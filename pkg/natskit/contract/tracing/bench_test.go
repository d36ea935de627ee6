package tracing_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// BenchmarkEmitHeartbeat prints what tracing costs a core-NATS publish
// (a heartbeat): with no tracer installed, with the tracer installed and
// nothing exported (no OTLP endpoint: the global no-op provider), and
// inside a sampled span of an exporting provider.
func BenchmarkEmitHeartbeat(b *testing.B) {
	s := natstest.Start(b)
	nc := s.Conn()
	em := events.NewEmitter(nc, nil, events.Source(events.ServiceGateway, "gw-1"))
	hb := &events.Heartbeat{Node: "gw-1", URL: "ws://127.0.0.1:8080/ws", Seq: 1}
	subject := events.HeartbeatSubject("gw-1")
	run := func(b *testing.B, ctx context.Context) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := em.Emit(ctx, subject, hb); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no-tracer", func(b *testing.B) {
		events.SetTracer(nil)
		run(b, context.Background())
	})
	b.Run("tracer-not-configured", func(b *testing.B) {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(propagation.TraceContext{})
		tracing.Install()
		defer events.SetTracer(nil)
		run(b, context.Background())
	})
	b.Run("inside-a-sampled-span", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider() // records, exports nowhere
		defer func() { _ = tp.Shutdown(context.Background()) }()
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(propagation.TraceContext{})
		tracing.Install()
		defer events.SetTracer(nil)
		ctx, end := events.StartSpan(context.Background(), "bench")
		defer end(nil)
		run(b, ctx)
	})
}
