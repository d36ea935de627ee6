package notifier

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/incident"
)

// Status is the reply to status.
type Status struct {
	Service   string    `json:"service"`
	Instance  string    `json:"instance"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Sinks     []string  `json:"sinks"`
	Open      int       `json:"open_incidents"`
}

// controlTimeout bounds the work of one control request.
const controlTimeout = 10 * time.Second

// addEndpoints registers the control verbs.
func (s *Service) addEndpoints(svc micro.Service) error {
	g := svc.AddGroup(events.ControlGroup(events.ServiceNotifier))
	verbs := map[string]func(context.Context, []byte) (any, error){
		events.VerbStatus:       s.status,
		events.VerbIncidentList: s.list,
		events.VerbIncidentGet:  s.get,
		events.VerbAck:          s.ack,
		events.VerbResolve:      s.resolve,
		events.VerbNote:         s.note,
		events.VerbSilence:      s.silence,
		events.VerbReview:       s.review,
	}
	for verb, fn := range verbs {
		if err := g.AddEndpoint(verb, micro.HandlerFunc(func(req micro.Request) {
			ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
			defer cancel()
			out, err := fn(ctx, req.Data())
			if err != nil {
				events.RespondError(req, wireError(err))
				return
			}
			events.Respond(req, out)
		})); err != nil {
			return err
		}
	}
	return nil
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

func (s *Service) status(ctx context.Context, b []byte) (any, error) {
	if err := events.DecodeCommand(b, &events.Empty{}); err != nil {
		return nil, err
	}
	open, err := s.eng.List(ctx, "open", 0)
	if err != nil {
		return nil, err
	}
	return Status{Service: events.ServiceNotifier, Instance: s.instance, Version: events.Version,
		StartedAt: s.started, Sinks: s.cfg.Sinks(), Open: len(open)}, nil
}

func (s *Service) list(ctx context.Context, b []byte) (any, error) {
	var req events.IncidentListRequest
	if err := events.DecodeCommand(b, &req); err != nil {
		return nil, err
	}
	if req.Limit == 0 {
		req.Limit = 50
	}
	incs, err := s.eng.List(ctx, req.State, req.Limit)
	return events.IncidentList{Incidents: incs}, err
}

func (s *Service) get(ctx context.Context, b []byte) (any, error) {
	var req events.IncidentRequest
	if err := events.DecodeCommand(b, &req); err != nil {
		return nil, err
	}
	r, err := s.eng.Get(ctx, req.Incident)
	if err != nil {
		return nil, err
	}
	return r.Incident, nil
}

func (s *Service) ack(ctx context.Context, b []byte) (any, error) {
	var c events.IncidentCommand
	if err := events.DecodeCommand(b, &c); err != nil {
		return nil, err
	}
	r, err := s.eng.Ack(ctx, &c)
	if err != nil {
		return nil, err
	}
	return r.Incident, nil
}

func (s *Service) resolve(ctx context.Context, b []byte) (any, error) {
	var c events.IncidentCommand
	if err := events.DecodeCommand(b, &c); err != nil {
		return nil, err
	}
	r, err := s.eng.Resolve(ctx, &c)
	if err != nil {
		return nil, err
	}
	return r.Incident, nil
}

func (s *Service) note(ctx context.Context, b []byte) (any, error) {
	var c events.NoteCommand
	if err := events.DecodeCommand(b, &c); err != nil {
		return nil, err
	}
	r, err := s.eng.Note(ctx, &c)
	if err != nil {
		return nil, err
	}
	return r.Incident, nil
}

func (s *Service) review(ctx context.Context, b []byte) (any, error) {
	var req events.IncidentRequest
	if err := events.DecodeCommand(b, &req); err != nil {
		return nil, err
	}
	return LoadReview(ctx, s.js, req.Incident)
}

// silence adds, expires or lists silences.
func (s *Service) silence(ctx context.Context, b []byte) (any, error) {
	var c events.SilenceCommand
	if err := events.DecodeCommand(b, &c); err != nil {
		return nil, err
	}
	store := s.eng.Store()
	now := time.Now().UTC()
	switch c.Op {
	case events.SilenceAdd:
		sl := newSilence(&c, now)
		if !sl.EndsAt.After(now) {
			return nil, events.Errorf(events.CodeBadRequest, "silence %s would end at %s, in the past", sl.ID, sl.EndsAt.Format(time.RFC3339))
		}
		if err := store.PutSilence(ctx, sl); err != nil {
			return nil, err
		}
		s.log.Info().Str("silence", sl.ID).Str("node", sl.Node).Str("kind", sl.Kind).Time("ends_at", sl.EndsAt).Msg("silence added")
	case events.SilenceExpire:
		found, err := store.DeleteSilence(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, events.Errorf(events.CodeNotFound, "no silence %s", c.ID)
		}
	}
	list, err := store.Silences(ctx, now)
	if err != nil {
		return nil, err
	}
	s.eng.SetSilences(list)
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
