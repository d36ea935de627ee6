package tracing_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
)

// FuzzTraceHeaders: any traceparent and tracestate a peer sends is read
// without a panic, and a span is always started.
func FuzzTraceHeaders(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE")
	f.Add("garbage", ",,,=")
	f.Add("", "")
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	tracing.Install()
	f.Fuzz(func(t *testing.T, parent, state string) {
		ctx, end := events.StartConsume(context.Background(), "fuzz", nats.Header{"traceparent": {parent}, "tracestate": {state}})
		if !trace.SpanContextFromContext(ctx).IsValid() {
			t.Fatal("no span started")
		}
		end(nil)
	})
}
