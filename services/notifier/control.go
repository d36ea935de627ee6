package notifier

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/notifier/incident"
)

// control registers the wsheal-notifier micro service and its verbs.
func (s *Service) control(nc *nats.Conn) (*service.Controls, error) {
	return service.AddControl(nc, service.Control{
		Service:     events.ServiceNotifier,
		Description: "wsheal incidents, escalation, sinks and post-incident reviews",
		Log:         s.log,
	},
		service.Handle(events.CtlNotifierStatus, wired(s.status)),
		service.Handle(events.CtlIncidentList, wired(s.list)),
		service.Handle(events.CtlIncidentGet, wired(s.get)),
		service.Handle(events.CtlIncidentAck, wired(s.ack)),
		service.Handle(events.CtlIncidentResolve, wired(s.resolve)),
		service.Handle(events.CtlIncidentNote, wired(s.note)),
		service.Handle(events.CtlSilence, wired(s.silence)),
		service.Handle(events.CtlIncidentReview, wired(s.review)),
	)
}

// wired maps a handler's domain errors to control errors (wireError).
func wired[Req, Rep any](h func(context.Context, *Req) (Rep, error)) func(context.Context, *Req) (Rep, error) {
	return func(ctx context.Context, req *Req) (Rep, error) {
		rep, err := h(ctx, req)
		return rep, wireError(err)
	}
}

// wireError maps domain errors to control error codes.
func wireError(err error) error {
	switch {
	case errors.Is(err, incident.ErrNotFound), errors.Is(err, ErrNoReview):
		return events.Errorf(events.CodeNotFound, "%v", err)
	case errors.Is(err, incident.ErrResolved):
		return events.Errorf(events.CodeConflict, "%v", err)
	case errors.Is(err, incident.ErrConflict):
		return events.Errorf(events.CodeUnavailable, "%v; try again", err)
	}
	return err
}

func (s *Service) status(ctx context.Context, _ *events.Empty) (events.NotifierStatus, error) {
	open, err := s.eng.List(ctx, "open", 0)
	if err != nil {
		return events.NotifierStatus{}, err
	}
	return events.NotifierStatus{Service: events.ServiceNotifier, Instance: s.instance, Version: events.Version,
		StartedAt: s.started, Sinks: s.cfg.Sinks(), Open: len(open)}, nil
}

func (s *Service) list(ctx context.Context, req *events.IncidentListRequest) (events.IncidentList, error) {
	if req.Limit == 0 {
		req.Limit = 50
	}
	incs, err := s.eng.List(ctx, req.State, req.Limit)
	return events.IncidentList{Incidents: incs}, err
}

func (s *Service) get(ctx context.Context, req *events.IncidentRequest) (events.Incident, error) {
	r, err := s.eng.Get(ctx, req.Incident)
	if err != nil {
		return events.Incident{}, err
	}
	return r.Incident, nil
}

func (s *Service) ack(ctx context.Context, c *events.IncidentCommand) (events.Incident, error) {
	r, err := s.eng.Ack(ctx, c)
	if err != nil {
		return events.Incident{}, err
	}
	return r.Incident, nil
}

func (s *Service) resolve(ctx context.Context, c *events.IncidentCommand) (events.Incident, error) {
	r, err := s.eng.Resolve(ctx, c)
	if err != nil {
		return events.Incident{}, err
	}
	return r.Incident, nil
}

func (s *Service) note(ctx context.Context, c *events.NoteCommand) (events.Incident, error) {
	r, err := s.eng.Note(ctx, c)
	if err != nil {
		return events.Incident{}, err
	}
	return r.Incident, nil
}

func (s *Service) review(ctx context.Context, req *events.IncidentRequest) (events.Review, error) {
	rv, err := LoadReview(ctx, s.js, req.Incident)
	if err != nil {
		return events.Review{}, err
	}
	return *rv, nil
}

// silence adds, expires or lists silences.
func (s *Service) silence(ctx context.Context, c *events.SilenceCommand) (events.SilenceReply, error) {
	store := s.eng.Store()
	now := time.Now().UTC()
	switch c.Op {
	case events.SilenceAdd:
		sl := newSilence(c, now)
		if !sl.EndsAt.After(now) {
			return events.SilenceReply{}, events.Errorf(events.CodeBadRequest, "silence %s would end at %s, in the past", sl.ID, sl.EndsAt.Format(time.RFC3339))
		}
		if err := store.PutSilence(ctx, sl); err != nil {
			return events.SilenceReply{}, err
		}
		s.log.Info().Str("silence", sl.ID).Str("node", sl.Node).Str("kind", sl.Kind).Time("ends_at", sl.EndsAt).Msg("silence added")
	case events.SilenceExpire:
		found, err := store.DeleteSilence(ctx, c.ID)
		if err != nil {
			return events.SilenceReply{}, err
		}
		if !found {
			return events.SilenceReply{}, events.Errorf(events.CodeNotFound, "no silence %s", c.ID)
		}
	}
	list, err := s.eng.RefreshSilences(ctx)
	if err != nil {
		return events.SilenceReply{}, err
	}
	if list == nil {
		list = []events.Silence{}
	}
	return events.SilenceReply{Silences: list}, nil
}

func newSilence(c *events.SilenceCommand, now time.Time) events.Silence {
	sl := events.Silence{ID: c.ID, Node: c.Node, Kind: c.Kind, StartsAt: c.StartsAt.UTC(), EndsAt: c.EndsAt.UTC(),
		Comment: c.Comment, CreatedBy: c.By}
	if sl.StartsAt.IsZero() {
		sl.StartsAt = now
	}
	if sl.EndsAt.IsZero() {
		sl.EndsAt = sl.StartsAt.Add(time.Duration(c.DurationMS) * time.Millisecond)
	}
	return sl
}
