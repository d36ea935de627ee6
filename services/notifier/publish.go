package notifier

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

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
