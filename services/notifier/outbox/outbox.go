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
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/redact"
	"github.com/wsheal/wsheal/services/notifier/pipeline"
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

// Outcome is told of every message's fate.
type Outcome func(ctx context.Context, m sink.Message, n events.Notification)

// Worker delivers one sink's messages.
type Worker struct {
	js      jetstream.JetStream
	sink    string
	pipe    *pipeline.Pipeline
	outcome Outcome
	ackWait time.Duration
	log     zerolog.Logger
}

// NewWorker returns a worker for sink.
func NewWorker(js jetstream.JetStream, sinkName string, pipe *pipeline.Pipeline, outcome Outcome, log zerolog.Logger) *Worker {
	return &Worker{js: js, sink: sinkName, pipe: pipe, outcome: outcome, ackWait: 30 * time.Second,
		log: log.With().Str("component", "outbox").Str("sink", sinkName).Logger()}
}

// Durable is the consumer name of a sink, shared by replicas.
func Durable(sinkName string) string { return "notifier-outbox-" + sinkName }

// Run consumes until ctx ends. Messages are handled one at a time per
// sink (MaxAckPending 1 across replicas), so a sink sees an incident's
// trigger, acknowledge and resolve in order.
func (w *Worker) Run(ctx context.Context) error {
	cons, err := w.js.CreateOrUpdateConsumer(ctx, events.StreamOutbox, jetstream.ConsumerConfig{
		Durable:       Durable(w.sink),
		FilterSubject: events.OutboxSubject(w.sink),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.ackWait,
		MaxAckPending: 1,
		MaxDeliver:    -1,
	})
	if err != nil {
		return fmt.Errorf("outbox: consumer %s: %w", w.sink, err)
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if !sleep(ctx, 200*time.Millisecond) {
				break
			}
			continue
		}
		for msg := range batch.Messages() {
			w.handle(ctx, msg)
		}
	}
	return nil
}

func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	m, err := sink.DecodeMessage(msg.Data())
	if err != nil {
		w.log.Error().Err(err).Msg("dropping unreadable outbox message")
		_ = msg.Term()
		return
	}
	res := w.pipe.Send(ctx, m, func() { _ = msg.InProgress() })
	if res.Err != nil && ctx.Err() != nil {
		_ = msg.Nak() // stopping: another replica or the next start sends it
		return
	}
	// What was sent is acknowledged and recorded even when stopping.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	n := events.Notification{IncidentID: m.Incident.ID, Sink: m.Sink, Action: m.Action, Level: m.Level,
		Attempts: res.Attempts, Status: "sent"}
	switch {
	case res.Duplicate:
		_ = msg.Ack()
		return
	case res.Err != nil && errors.Is(res.Err, pipeline.ErrDedup):
		_ = msg.NakWithDelay(time.Second) // KV unreachable: try again
		return
	case res.Err != nil:
		// A transport error names the sink's URL (a Slack webhook is a
		// secret): the outcome event and the incident timeline get it redacted.
		n.Status, n.Error = "failed", redact.String(res.Err.Error())
		w.log.Warn().Err(redact.Error(res.Err)).Str("incident", m.Incident.ID).Str("action", m.Action).
			Int("attempts", res.Attempts).Msg("notification failed")
	default:
		w.log.Info().Str("incident", m.Incident.ID).Str("action", m.Action).Int("attempts", res.Attempts).
			Msg("notification sent")
	}
	if err := msg.DoubleAck(ctx); err != nil {
		w.log.Warn().Err(err).Str("id", m.ID).Msg("ack")
	}
	if w.outcome != nil {
		w.outcome(ctx, m, n)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
