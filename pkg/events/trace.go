package events

import (
	"context"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Tracing follows one fault through the services: the trace context rides
// every event and control request as W3C Trace Context headers
// (traceparent, tracestate) on the NATS message. Emitter.Publish and
// Request inject it; StartConsume and TraceHandler extract it. The
// OpenTelemetry side lives in package service/tracing, which the service
// binaries install with SetTracer; this package imports no OpenTelemetry
// code, so that pkg/client, which imports it, stays free of it. Until a
// Tracer is set every call here is a no-op.

// SpanKind says what a span does on the wire.
type SpanKind int

// Span kinds, as OpenTelemetry names them.
const (
	SpanInternal SpanKind = iota
	SpanProducer          // publishing an event
	SpanConsumer          // handling an event
	SpanClient            // sending a control request
	SpanServer            // answering a control request
)

// SpanEnd ends a span, recording err (if not nil) as its error status.
type SpanEnd func(err error)

// Attr is a span attribute.
type Attr struct{ Key, Value string }

// Tracer is what Publish, Request and the consume helpers need of a
// tracing implementation.
type Tracer interface {
	// Inject writes the trace context of ctx into h.
	Inject(ctx context.Context, h nats.Header)
	// Start begins a span. With h not nil the span's parent is the trace
	// context carried in h (a consumer or server span); otherwise it is
	// the span of ctx. Producer, client and server spans are started only
	// inside a trace (ctx, or the request, carries one), so that
	// heartbeats and status polls cost nothing.
	Start(ctx context.Context, name string, kind SpanKind, h nats.Header, attrs ...Attr) (context.Context, SpanEnd)
	// TraceID is the hex trace id of ctx's span, or "".
	TraceID(ctx context.Context) string
}

type tracerBox struct{ t Tracer }

var tracer atomic.Pointer[tracerBox]

// SetTracer installs t for the whole process (nil removes it). A service
// binary calls it once at start, through tracing.Setup.
func SetTracer(t Tracer) {
	if t == nil {
		tracer.Store(nil)
		return
	}
	tracer.Store(&tracerBox{t: t})
}

func currentTracer() Tracer {
	if b := tracer.Load(); b != nil {
		return b.t
	}
	return nil
}

func noEnd(error) {}

// StartSpan begins a span under ctx's span: a step of the work on one
// event (an anomaly raised, an incident opened). End it with the returned
// function.
func StartSpan(ctx context.Context, name string, attrs ...Attr) (context.Context, SpanEnd) {
	t := currentTracer()
	if t == nil {
		return ctx, noEnd
	}
	return t.Start(ctx, name, SpanInternal, nil, attrs...)
}

// StartConsume begins the consumer span of a received event: its parent
// is the trace context in the message headers h (JetStream keeps them
// with the stored message, so a redelivery joins the same trace).
func StartConsume(ctx context.Context, name string, h nats.Header, attrs ...Attr) (context.Context, SpanEnd) {
	t := currentTracer()
	if t == nil {
		return ctx, noEnd
	}
	if h == nil {
		h = nats.Header{}
	}
	return t.Start(ctx, name, SpanConsumer, h, attrs...)
}

// TraceHandler wraps a control endpoint's handler in a server span named
// name whose parent is the trace context of the request; a request
// outside any trace gets no span.
func TraceHandler(name string, h micro.HandlerFunc) micro.HandlerFunc {
	return func(req micro.Request) {
		t := currentTracer()
		if t == nil {
			h(req)
			return
		}
		_, end := t.Start(context.Background(), name, SpanServer, nats.Header(req.Headers()),
			Attr{"messaging.destination.name", req.Subject()})
		defer end(nil)
		h(req)
	}
}

// TraceID is the hex trace id of ctx's span, or "" (no tracer, no span):
// a log line that carries it can be joined to the trace.
func TraceID(ctx context.Context) string {
	t := currentTracer()
	if t == nil {
		return ""
	}
	return t.TraceID(ctx)
}

// traceOut starts a producer or client span and injects its context into
// h; without a tracer it does nothing.
func traceOut(ctx context.Context, name string, kind SpanKind, h nats.Header, attrs ...Attr) SpanEnd {
	t := currentTracer()
	if t == nil || h == nil {
		return noEnd
	}
	ctx, end := t.Start(ctx, name, kind, nil, attrs...)
	t.Inject(ctx, h)
	return end
}

// spanAttributed is a payload that names itself on its publish span, so
// that a trace shows which phase or state each message was.
type spanAttributed interface {
	spanAttrs() []Attr
}

func (a *Anomaly) spanAttrs() []Attr {
	return []Attr{{"wsheal.anomaly.id", a.ID}, {"wsheal.anomaly.kind", a.Kind}, {"wsheal.anomaly.state", a.State}}
}

func (r *Remediation) spanAttrs() []Attr {
	return []Attr{{"wsheal.anomaly.id", r.AnomalyID}, {"wsheal.remediation.action", r.Action},
		{"wsheal.remediation.target", r.Target}, {"wsheal.remediation.phase", r.Phase}}
}

func (i *Incident) spanAttrs() []Attr {
	return []Attr{{"wsheal.incident.id", i.ID}, {"wsheal.incident.state", i.State}}
}

// publishAttrs are the attributes of the publish span of ev on subject.
func publishAttrs(subject string, ev *Event) []Attr {
	attrs := []Attr{{"messaging.destination.name", subject}, {"messaging.message.id", ev.ID}}
	if p, ok := ev.Payload.(spanAttributed); ok {
		attrs = append(attrs, p.spanAttrs()...)
	}
	return attrs
}
