package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/incident"
)

// Durable consumer names, shared by replicas.
const (
	DurableAnomalies    = "notifier-anomalies"
	DurableRemediations = "notifier-remediations"
)

// maxEarly is how often an event that arrived before its anomaly is
// delivered again before it is dropped.
const maxEarly = 60

// consumer reads one input stream.
type consumer struct {
	stream, durable, filter string
	handle                  func(ctx context.Context, ev *events.Event) error
}

// consume runs a durable consumer until ctx ends. A new consumer starts
// replay before now; an existing one resumes where it stopped.
func (s *Service) consume(ctx context.Context, c consumer, log zerolog.Logger) error {
	log = log.With().Str("component", "consumer").Str("durable", c.durable).Logger()
	cons, err := s.js.CreateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
		Durable: c.durable, FilterSubject: c.filter, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: -1, MaxAckPending: 256,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: ptr(time.Now().Add(-s.cfg.Replay)),
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		cons, err = s.js.Consumer(ctx, c.stream, c.durable)
	}
	if err != nil {
		return fmt.Errorf("notifier: consumer %s: %w", c.durable, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { s.dispatch(ctx, c, msg, log) })
	if err != nil {
		return fmt.Errorf("notifier: consume %s: %w", c.durable, err)
	}
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

func ptr[T any](v T) *T { return &v }

// dispatch decodes and handles one event, then acks, retries or drops it.
func (s *Service) dispatch(ctx context.Context, c consumer, msg jetstream.Msg, log zerolog.Logger) {
	ev, err := events.Decode(msg.Data())
	if err != nil {
		log.Warn().Err(err).Str("subject", msg.Subject()).Msg("dropping undecodable event")
		_ = msg.Term()
		return
	}
	ctx, end := events.StartConsume(ctx, "notifier handle "+ev.Type, nats.Header(msg.Headers()),
		events.Attr{Key: "messaging.destination.name", Value: msg.Subject()}, events.Attr{Key: "messaging.message.id", Value: ev.ID})
	err = c.handle(ctx, ev)
	if errors.Is(err, incident.ErrRetry) || errors.Is(err, incident.ErrNoAnomaly) {
		end(nil) // waiting for the anomaly, or nothing to do: not a failure
	} else {
		end(err)
	}
	switch {
	case err == nil:
		_ = msg.Ack()
	case errors.Is(err, incident.ErrRetry):
		md, _ := msg.Metadata()
		if md != nil && md.NumDelivered >= maxEarly {
			log.Warn().Err(err).Str("event", ev.ID).Msg("dropping event whose anomaly never came")
			_ = msg.Term()
			return
		}
		_ = msg.NakWithDelay(250 * time.Millisecond)
	case errors.Is(err, incident.ErrNoAnomaly):
		log.Debug().Str("event", ev.ID).Msg("remediation names no anomaly; ignored")
		_ = msg.Ack()
	case ctx.Err() != nil:
		_ = msg.Nak()
	default:
		log.Error().Err(err).Str("event", ev.ID).Msg("event not handled; retrying")
		_ = msg.NakWithDelay(time.Second)
	}
}

// HandleEvent applies one decoded input event: an anomaly or a
// remediation. Other types are ignored.
func HandleEvent(ctx context.Context, eng *incident.Engine, ev *events.Event) error {
	if a, ok := events.As[*events.Anomaly](ev); ok {
		_, err := eng.HandleAnomaly(ctx, a)
		return err
	}
	if r, ok := events.As[*events.Remediation](ev); ok {
		_, err := eng.HandleRemediation(ctx, r, ev.Time)
		return err
	}
	return nil
}

// publisher publishes the notifier's events with deterministic ids.
type publisher struct {
	em *events.Emitter
}

// Incident publishes a change; its id (incident:seq) makes a republish
// after a crash a duplicate JetStream drops.
func (p publisher) Incident(ctx context.Context, inc events.Incident, seq int) error {
	ev := events.New(p.em.Source(), events.IncidentSubject(inc.ID), &inc)
	ev.ID = fmt.Sprintf("%s:%d", inc.ID, seq)
	return p.em.Publish(ctx, events.IncidentSubject(inc.ID), ev)
}

// Review publishes the review (one per incident: its id is review-<id>).
func (p publisher) Review(ctx context.Context, r events.Review) error {
	_, err := p.em.Emit(ctx, events.ReviewSubject(r.IncidentID), &r)
	return err
}

// Notification publishes a notification outcome.
func (p publisher) Notification(ctx context.Context, n events.Notification) error {
	_, err := p.em.Emit(ctx, events.NotificationSubject(n.Sink, n.IncidentID), &n)
	return err
}

// ErrNoReview is returned when an incident has no review (yet).
var ErrNoReview = errors.New("notifier: no review")

// LoadReview reads an incident's review from the reviews stream.
func LoadReview(ctx context.Context, js jetstream.JetStream, id string) (*events.Review, error) {
	st, err := js.Stream(ctx, events.StreamReviews)
	if err != nil {
		return nil, fmt.Errorf("notifier: reviews stream: %w", err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, events.ReviewSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w for %s", ErrNoReview, id)
	}
	if err != nil {
		return nil, fmt.Errorf("notifier: review %s: %w", id, err)
	}
	ev, err := events.Decode(msg.Data)
	if err != nil {
		return nil, fmt.Errorf("notifier: review %s: %w", id, err)
	}
	r, ok := events.As[*events.Review](ev)
	if !ok {
		return nil, fmt.Errorf("notifier: review %s: type %s", id, ev.Type)
	}
	return r, nil
}
