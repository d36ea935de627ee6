package events

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events/redact"
)

// Emitter publishes events from one source. Events on subjects a stream
// stores are published through JetStream and acknowledged, with the event
// id as Nats-Msg-Id so that a republish is stored once; others (heartbeats)
// go over core NATS.
type Emitter struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	source string
}

// NewEmitter returns an emitter for source (see Source).
func NewEmitter(nc *nats.Conn, js jetstream.JetStream, source string) *Emitter {
	return &Emitter{nc: nc, js: js, source: source}
}

// Source is the emitter's CloudEvents source.
func (e *Emitter) Source() string { return e.source }

// Emit wraps p in an envelope and publishes it on subject.
func (e *Emitter) Emit(ctx context.Context, subject string, p Payload) (*Event, error) {
	ev := New(e.source, subject, p)
	return ev, e.Publish(ctx, subject, ev)
}

// Publish publishes an already built event.
func (e *Emitter) Publish(ctx context.Context, subject string, ev *Event) error {
	body, err := ev.Encode()
	if err != nil {
		return err
	}
	body = redact.Bytes(body) // secrets never reach the event streams
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	msg.Header.Set("Ce-Type", ev.Type)
	end := noEnd
	if t := currentTracer(); t != nil && t.TraceID(ctx) != "" { // only inside a trace
		end = traceOut(ctx, "publish "+ev.Type, SpanProducer, msg.Header, publishAttrs(subject, ev)...)
	}
	err = e.send(ctx, msg)
	end(err)
	if err != nil {
		return fmt.Errorf("events: publish %s on %s: %w", ev.Type, subject, err)
	}
	return nil
}

// send publishes through JetStream if a stream stores subject, else over
// core NATS.
func (e *Emitter) send(ctx context.Context, msg *nats.Msg) error {
	if e.js != nil && StreamFor(msg.Subject) != "" {
		_, err := e.js.PublishMsg(ctx, msg)
		return err
	}
	return e.nc.PublishMsg(msg)
}
