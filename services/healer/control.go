package healer

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/healer/state"
)

// control registers the wsheal-healer micro service and its verbs.
func (s *Service) control(nc *nats.Conn) (*service.Controls, error) {
	return service.AddControl(nc, service.Control{
		Service:     events.ServiceHealer,
		Description: "wsheal healer: remediation policies, executors and safety limits",
		Metadata:    map[string]string{"instance": s.cfg.Instance},
		Log:         s.log,
	},
		service.Handle(events.CtlHealerStatus, s.status),
		service.Handle(events.CtlHealerPolicies, s.policiesVerb),
		service.Handle(events.CtlHealerPause, s.pause),
		service.Handle(events.CtlHealerResume, s.resume),
		service.Handle(events.CtlHealerDryRun, s.dryRun),
		service.Handle(events.CtlHealerHandsOff, s.handsOff),
		service.Handle(events.CtlHealerActions, s.actions),
		service.Handle(events.CtlHealerRecord, s.recordVerb),
	)
}

func (s *Service) status(ctx context.Context, _ *events.Empty) (events.HealerStatus, error) {
	sw, err := s.engine.Switches(ctx)
	if err != nil {
		return events.HealerStatus{}, unavailable(err)
	}
	hands, err := s.store.HandsOff(ctx)
	if err != nil {
		return events.HealerStatus{}, unavailable(err)
	}
	q, err := s.store.Quarantined(ctx)
	if err != nil {
		return events.HealerStatus{}, unavailable(err)
	}
	tokens, err := s.store.Tokens(ctx, s.cfg.Budget, time.Now())
	if err != nil {
		return events.HealerStatus{}, unavailable(err)
	}
	st := events.HealerStatus{Instance: s.cfg.Instance, Paused: sw.Paused, DryRun: sw.DryRun, HandsOff: hands,
		Quarantined: q, InFlight: s.engine.InFlight(), Policies: len(s.policies.Policies),
		PolicyFile: s.policies.Source, Tokens: tokens, State: "active"}
	switch {
	case sw.Paused:
		st.State = "paused"
	case sw.DryRun:
		st.State = "dry-run"
	}
	return st, nil
}

func (s *Service) policiesVerb(context.Context, *events.Empty) (events.HealerPolicies, error) {
	return events.HealerPolicies{Source: s.policies.Source, YAML: string(s.policies.Encode())}, nil
}

func (s *Service) switches(ctx context.Context, f func(*state.Switches)) (events.HealerSwitches, error) {
	sw, err := s.store.SetSwitches(ctx, s.engine.DefaultSwitches(), f)
	if err != nil {
		return events.HealerSwitches{}, unavailable(err)
	}
	hands, err := s.store.HandsOff(ctx)
	if err != nil {
		return events.HealerSwitches{}, unavailable(err)
	}
	return events.HealerSwitches{Paused: sw.Paused, DryRun: sw.DryRun, HandsOff: hands}, nil
}

// pause, resume, dryRun and handsOff are the switches: each needs a
// request id (a repeat of the last id changes nothing) and is recorded
// with the requester's NATS identity (requester), the request's own "by"
// kept as a claim.
func (s *Service) pause(ctx context.Context, cmd *events.HealerPauseCommand) (events.HealerSwitches, error) {
	by := s.requester(ctx)
	s.log.Warn().Str("by", by).Str("claimed", cmd.By).Str("request_id", cmd.ID).Str("reason", cmd.Reason).Msg("paused")
	return s.switches(ctx, func(sw *state.Switches) {
		if sw.RequestID != cmd.ID {
			sw.Paused, sw.Reason = true, cmd.Reason
			record(sw, by, cmd.By, cmd.ID)
		}
	})
}

func (s *Service) resume(ctx context.Context, cmd *events.HealerResumeCommand) (events.HealerSwitches, error) {
	by := s.requester(ctx)
	s.log.Info().Str("by", by).Str("claimed", cmd.By).Str("request_id", cmd.ID).Msg("resumed")
	return s.switches(ctx, func(sw *state.Switches) {
		if sw.RequestID != cmd.ID {
			sw.Paused, sw.Reason = false, ""
			record(sw, by, cmd.By, cmd.ID)
		}
	})
}

func (s *Service) dryRun(ctx context.Context, cmd *events.HealerDryRunCommand) (events.HealerSwitches, error) {
	by := s.requester(ctx)
	s.log.Info().Bool("on", *cmd.On).Str("by", by).Str("claimed", cmd.By).Str("request_id", cmd.ID).Msg("dry-run switched")
	return s.switches(ctx, func(sw *state.Switches) {
		if sw.RequestID != cmd.ID {
			sw.DryRun = *cmd.On
			record(sw, by, cmd.By, cmd.ID)
		}
	})
}

func (s *Service) handsOff(ctx context.Context, cmd *events.HandsOffCommand) (events.HealerSwitches, error) {
	by := s.requester(ctx)
	var err error
	if *cmd.On {
		err = s.store.SetHandsOff(ctx, events.HandsOff{Node: cmd.Node, Reason: cmd.Reason, By: by,
			Claimed: truncate(cmd.By, 128), RequestID: cmd.ID, Since: time.Now().UTC()})
	} else {
		err = s.store.ClearHandsOff(ctx, cmd.Node)
	}
	if err != nil {
		return events.HealerSwitches{}, unavailable(err)
	}
	s.log.Info().Str("node", cmd.Node).Bool("on", *cmd.On).Str("by", by).Str("claimed", cmd.By).
		Str("request_id", cmd.ID).Msg("hands-off switched")
	return s.switches(ctx, func(*state.Switches) {})
}

// actions reads the audit stream backwards, newest first.
func (s *Service) actions(ctx context.Context, cmd *events.HealerActionsRequest) (events.HealerActions, error) {
	limit := cmd.Limit
	if limit == 0 {
		limit = 50
	}
	out := events.HealerActions{Actions: []events.Remediation{}}
	err := events.ReadBack(ctx, s.js, events.StreamRemediations, 2*limit, 5000, func(_ uint64, data []byte) bool {
		if ev, err := events.Decode(data); err == nil {
			if r, ok := events.As[*events.Remediation](ev); ok && (cmd.Target == "" || r.Target == cmd.Target) {
				out.Actions = append(out.Actions, *r)
			}
		}
		return len(out.Actions) < limit
	})
	if err != nil {
		return events.HealerActions{}, unavailable(err)
	}
	return out, nil
}

func unavailable(err error) error {
	return events.Errorf(events.CodeUnavailable, "healer state: %v", err)
}

// recordVerb answers with the healer's record, all of it or one kind's.
func (s *Service) recordVerb(ctx context.Context, cmd *events.HealerRecordRequest) (events.HealerRecord, error) {
	if s.record == nil {
		return events.HealerRecord{}, events.Errorf(events.CodeUnavailable, "healer record: not open yet")
	}
	rs, err := s.record.All(ctx, cmd.Kind)
	if err != nil {
		return events.HealerRecord{}, events.Errorf(events.CodeUnavailable, "healer record: %v", err)
	}
	return events.HealerRecord{Records: rs}, nil
}
