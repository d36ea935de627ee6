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
	if e.js != nil && StreamFor(subject) != "" {
		if _, err := e.js.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("events: publish %s on %s: %w", ev.Type, subject, err)
		}
		return nil
	}
	if err := e.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("events: publish %s on %s: %w", ev.Type, subject, err)
	}
	return nil
}
