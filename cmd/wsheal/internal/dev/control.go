package dev

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
)

// serveControl registers the wsheal-dev micro service: restart (for the
// healer's restart executor), list and status.
func (s *Supervisor) serveControl() (micro.Service, error) {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        events.ServiceName(events.ServiceDev),
		Version:     events.Version,
		Description: "wsheal dev supervisor: lists and restarts the processes of a dev stack",
	})
	if err != nil {
		return nil, err
	}
	g := svc.AddGroup(events.ControlGroup(events.ServiceDev))
	var (
		mu   sync.Mutex
		done = map[string]events.RestartReply{}
	)
	restart := func(req micro.Request) {
		var cmd events.RestartCommand
		if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
			events.RespondError(req, err)
			return
		}
		p, err := s.proc(cmd.Node)
		if err != nil {
			events.RespondError(req, events.Errorf(events.CodeNotFound, "no process %q in this dev stack (wsheal dev ps lists them)", cmd.Node))
			return
		}
		mu.Lock()
		defer mu.Unlock() // one restart at a time; the same id twice is done once
		if rep, ok := done[cmd.ID]; ok {
			events.Respond(req, rep)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.restart(ctx, s.cfg.Bin); err != nil {
			events.RespondError(req, events.Errorf(events.CodeInternal, "restart %s: %v", cmd.Node, err))
			return
		}
		rep := events.RestartReply{Process: p.info()}
		done[cmd.ID] = rep
		s.log.Info().Str("node", cmd.Node).Int("pid", rep.Process.PID).Str("command_id", cmd.ID).Msg("restarted on request")
		events.Respond(req, rep)
	}
	list := func(req micro.Request) {
		var out events.ProcessList
		for _, p := range s.procs {
			out.Processes = append(out.Processes, p.info())
		}
		events.Respond(req, out)
	}
	natsOp := func(req micro.Request) {
		var cmd events.NATSCommand
		if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
			events.RespondError(req, err)
			return
		}
		var err error
		switch cmd.Op {
		case events.NATSStop:
			err = s.nats.stopNode(cmd.Node)
		case events.NATSStart:
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err = s.nats.restartNode(ctx, cmd.Node)
			cancel()
		}
		if err != nil {
			events.RespondError(req, events.Errorf(events.CodeConflict, "%v", err))
			return
		}
		if cmd.Op != events.NATSList {
			s.log.Warn().Str("nats", cmd.Node).Str("op", cmd.Op).Msg("NATS node changed on request")
		}
		events.Respond(req, events.NATSReply{Running: s.nats.running(), URLs: s.nats.urls()})
	}
	for verb, h := range map[string]micro.HandlerFunc{events.VerbRestart: restart, events.VerbList: list, events.VerbStatus: list, events.VerbNATS: natsOp} {
		if err := g.AddEndpoint(verb, events.TraceHandler("dev "+verb, h)); err != nil {
			_ = svc.Stop()
			return nil, err
		}
	}
	return svc, nil
}
