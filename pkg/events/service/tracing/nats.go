package tracing

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wsheal/wsheal/pkg/events"
)

// scope is the instrumentation scope of every wsheal span.
const scope = "github.com/wsheal/wsheal"

// Install makes pkg/events carry trace context through the global
// OpenTelemetry propagator and tracer provider (otel.SetTracerProvider,
// otel.SetTextMapPropagator). Setup calls it; tests call it after
// installing their own provider.
func Install() { events.SetTracer(Tracer{}) }

// Tracer implements events.Tracer over the global OpenTelemetry API.
type Tracer struct{}

// Carrier adapts nats.Header to a propagation.TextMapCarrier. Unlike
// http.Header it keeps keys as written: traceparent, tracestate.
type Carrier nats.Header

// Get returns the first value of key.
func (c Carrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key.
func (c Carrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys present.
func (c Carrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

var _ propagation.TextMapCarrier = Carrier(nil)

// Inject implements events.Tracer.
func (Tracer) Inject(ctx context.Context, h nats.Header) {
	otel.GetTextMapPropagator().Inject(ctx, Carrier(h))
}

var kinds = map[events.SpanKind]trace.SpanKind{
	events.SpanInternal: trace.SpanKindInternal,
	events.SpanProducer: trace.SpanKindProducer,
	events.SpanConsumer: trace.SpanKindConsumer,
	events.SpanClient:   trace.SpanKindClient,
	events.SpanServer:   trace.SpanKindServer,
}

// Start implements events.Tracer.
func (Tracer) Start(ctx context.Context, name string, kind events.SpanKind, h nats.Header, attrs ...events.Attr) (context.Context, events.SpanEnd) {
	if h != nil {
		ctx = otel.GetTextMapPropagator().Extract(ctx, Carrier(h))
	}
	if kind != events.SpanInternal && kind != events.SpanConsumer && !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, func(error) {}
	}
	kv := make([]attribute.KeyValue, 0, len(attrs)+1)
	kv = append(kv, attribute.String("messaging.system", "nats"))
	for _, a := range attrs {
		kv = append(kv, attribute.String(a.Key, a.Value))
	}
	ctx, span := otel.Tracer(scope).Start(ctx, name, trace.WithSpanKind(kinds[kind]), trace.WithAttributes(kv...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// TraceID implements events.Tracer.
func (Tracer) TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}
