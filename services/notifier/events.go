package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
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

// inputs are the durable consumers of the notifier's input streams. Each
// replica handles its events one at a time, in the order they come; an
// event waiting for its anomaly does not hold back the ones behind it.
func (s *Service) inputs() []service.Work {
	input := func(stream, durable, filter string) service.Work {
		return service.Work{Stream: stream, Durable: durable, Filter: filter,
			Description: "wsheal notifier: every " + stream + " event applied to the incidents once across replicas",
			AckWait:     30 * time.Second, MaxInFlight: 1, MaxPending: 256, Replay: s.cfg.Replay}
	}
	return []service.Work{
		input(events.StreamAnomalies, DurableAnomalies, events.AnomaliesAll),
		input(events.StreamRemediations, DurableRemediations, events.RemediationsAll),
	}
}

// handle decodes and applies one input event. An event that arrived
// before its anomaly is retried soon, and dropped after maxEarly
// deliveries; a failure is retried a second later.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) service.Outcome {
	ev, err := events.Decode(msg.Data())
	if err != nil {
		return service.Drop("undecodable event: " + err.Error())
	}
	err = HandleEvent(ctx, s.eng, ev)
	switch {
	case err == nil:
		return service.Ack()
	case errors.Is(err, incident.ErrRetry):
		if md, _ := msg.Metadata(); md != nil && md.NumDelivered >= maxEarly {
			return service.Drop(fmt.Sprintf("event %s: its anomaly never came: %v", ev.ID, err))
		}
		return service.RetryIn(250 * time.Millisecond)
	case errors.Is(err, incident.ErrNoAnomaly):
		s.log.Debug().Str("event", ev.ID).Msg("remediation names no anomaly; ignored")
		return service.Ack()
	case ctx.Err() != nil:
		return service.RetryIn(0) // stopping: handed back
	}
	s.log.Error().Err(err).Str("event", ev.ID).Str("subject", msg.Subject()).Msg("event not handled; retrying")
	return service.RetryIn(time.Second)
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
