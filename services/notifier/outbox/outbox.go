// Package outbox is the notifier's durable outbox: messages are stored in
// the work-queue stream WSHEAL_OUTBOX (one subject per sink) before any
// attempt to send them, and each sink's durable consumer, shared by every
// replica, takes them one at a time and acknowledges a message only after
// it was delivered or given up on.
//
// Guarantee: at least once, and once in practice. A message is published
// with its id as Nats-Msg-Id (JetStream drops a re-publish within the
// duplicate window), and the ids of delivered messages are recorded in
// KV before the ack, so a redelivery after a crash between ack and record
// is skipped. The one window left is a crash after the receiver accepted a
// message and before its id was recorded: that message is sent again
// (PagerDuty folds it into the same alert by its dedup_key).
package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Outbox enqueues messages.
type Outbox struct {
	js jetstream.JetStream
}

// New returns an outbox over js.
func New(js jetstream.JetStream) *Outbox { return &Outbox{js: js} }

// Enqueue stores m durably; the same id twice is stored once within the
// stream's duplicate window.
func (o *Outbox) Enqueue(ctx context.Context, m sink.Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("outbox: encode %s: %w", m.ID, err)
	}
	msg := &nats.Msg{Subject: events.OutboxSubject(m.Sink), Data: body, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, m.ID)
	if _, err := o.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", m.ID, err)
	}
	return nil
}
