package notifier

import (
	"context"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

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
