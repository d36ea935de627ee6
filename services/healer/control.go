package healer

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// control registers the wsheal-healer micro service and its verbs.
func (s *Service) control(nc *nats.Conn) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        events.ServiceName(events.ServiceHealer),
		Version:     events.Version,
		Description: "wsheal healer: remediation policies, executors and safety limits",
		Metadata:    map[string]string{"instance": s.cfg.Instance},
	})
	if err != nil {
		return nil, err
	}
	g := svc.AddGroup(events.ControlGroup(events.ServiceHealer))
	verbs := map[string]func(context.Context, micro.Request) (any, error){
		events.VerbStatus:         s.status,
		events.VerbHealerPolicies: s.policiesVerb,
		events.VerbHealerPause:    s.pause,
		events.VerbHealerResume:   s.resume,
		events.VerbHealerDryRun:   s.dryRun,
		events.VerbHealerHandsOff: s.handsOff,
		events.VerbHealerActions:  s.actions,
		events.VerbHealerRecord:   s.recordVerb,
	}
	for verb, f := range verbs {
		if err := g.AddEndpoint(verb, handler(f)); err != nil {
			_ = svc.Stop()
			return nil, err
		}
	}
	return svc, nil
}

func handler(f func(context.Context, micro.Request) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := f(ctx, req)
		if err != nil {
			events.RespondError(req, err)
			return
		}
		events.Respond(req, out)
	})
}

func (s *Service) status(ctx context.Context, req micro.Request) (any, error) {
	if err := events.DecodeCommand(req.Data(), &events.Empty{}); err != nil {
		return nil, err
	}
	sw, err := s.engine.Switches(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	hands, err := s.store.HandsOff(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	q, err := s.store.Quarantined(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	tokens, err := s.store.Tokens(ctx, safety.Budget{Rate: s.cfg.BudgetRate, Burst: s.cfg.BudgetBurst}, time.Now())
	if err != nil {
		return nil, unavailable(err)
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

func (s *Service) policiesVerb(_ context.Context, req micro.Request) (any, error) {
	if err := events.DecodeCommand(req.Data(), &events.Empty{}); err != nil {
		return nil, err
	}
	return events.HealerPolicies{Source: s.policies.Source, YAML: string(s.policies.Encode())}, nil
}

func (s *Service) switches(ctx context.Context, f func(*state.Switches)) (any, error) {
	sw, err := s.store.SetSwitches(ctx, s.engine.DefaultSwitches(), f)
	if err != nil {
		return nil, unavailable(err)
	}
	hands, err := s.store.HandsOff(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	return events.HealerSwitches{Paused: sw.Paused, DryRun: sw.DryRun, HandsOff: hands}, nil
}

// pause, resume, dryRun and handsOff are the switches: each needs a
// request id (a repeat of the last id changes nothing) and is recorded
// with the requester's NATS identity (requester), the request's own "by"
// kept as a claim.
func (s *Service) pause(ctx context.Context, req micro.Request) (any, error) {
	var cmd events.HealerPauseCommand
	if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
		return nil, err
	}
	by := s.requester(req)
	s.log.Warn().Str("by", by).Str("claimed", cmd.By).Str("request_id", cmd.ID).Str("reason", cmd.Reason).Msg("paused")
	return s.switches(ctx, func(sw *state.Switches) {
		if sw.RequestID != cmd.ID {
			sw.Paused, sw.Reason = true, cmd.Reason
			record(sw, by, cmd.By, cmd.ID)
		}
	})
}

func (s *Service) resume(ctx context.Context, req micro.Request) (any, error) {
	var cmd events.HealerResumeCommand
	if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
		return nil, err
	}
	by := s.requester(req)
	s.log.Info().Str("by", by).Str("claimed", cmd.By).Str("request_id", cmd.ID).Msg("resumed")
	return s.switches(ctx, func(sw *state.Switches) {
		if sw.RequestID != cmd.ID {
			sw.Paused, sw.Reason = false, ""
			record(sw, by, cmd.By, cmd.ID)
		}
	})
}

func (s *Service) dryRun(ctx context.Context, req micro.Request) (any, error) {
	var cmd events.HealerDryRunCommand
	if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
		return nil, err
	}
	by := s.requester(req)
	s.log.Info().Bool("on", *cmd.On).Str("by", by).Str("claimed", cmd.By).Str("request_id", cmd.ID).Msg("dry-run switched")
	return s.switches(ctx, func(sw *state.Switches) {
		if sw.RequestID != cmd.ID {
			sw.DryRun = *cmd.On
			record(sw, by, cmd.By, cmd.ID)
		}
	})
}

func (s *Service) handsOff(ctx context.Context, req micro.Request) (any, error) {
	var cmd events.HandsOffCommand
	if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
		return nil, err
	}
	by := s.requester(req)
	var err error
	if *cmd.On {
		err = s.store.SetHandsOff(ctx, events.HandsOff{Node: cmd.Node, Reason: cmd.Reason, By: by,
			Claimed: truncate(cmd.By, 128), RequestID: cmd.ID, Since: time.Now().UTC()})
	} else {
		err = s.store.ClearHandsOff(ctx, cmd.Node)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	s.log.Info().Str("node", cmd.Node).Bool("on", *cmd.On).Str("by", by).Str("claimed", cmd.By).
		Str("request_id", cmd.ID).Msg("hands-off switched")
	return s.switches(ctx, func(*state.Switches) {})
}

// actions reads the audit stream backwards, newest first.
func (s *Service) actions(ctx context.Context, req micro.Request) (any, error) {
	var cmd events.HealerActionsRequest
	if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
		return nil, err
	}
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
		return nil, unavailable(err)
	}
	return out, nil
}

func unavailable(err error) error {
	return events.Errorf(events.CodeUnavailable, "healer state: %v", err)
}

// recordVerb answers with the healer's record, all of it or one kind's.
func (s *Service) recordVerb(ctx context.Context, req micro.Request) (any, error) {
	var cmd events.HealerRecordRequest
	if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
		return nil, err
	}
	if s.record == nil {
		return nil, events.Errorf(events.CodeUnavailable, "healer record: not open yet")
	}
	rs, err := s.record.All(ctx, cmd.Kind)
	if err != nil {
		return nil, events.Errorf(events.CodeUnavailable, "healer record: %v", err)
	}
	return events.HealerRecord{Records: rs}, nil
}
