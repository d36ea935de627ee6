package dev

import (
	"context"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// controlTimeout bounds one control request: starting a NATS server of
// the embedded cluster again takes longer than the services' default.
const controlTimeout = 15 * time.Second

// serveControl registers the wsheal-dev micro service: restart (for the
// healer's restart executor), list, status and nats.
func (s *Supervisor) serveControl() (*service.Controls, error) {
	r := &restarts{s: s, done: map[string]events.RestartReply{}}
	return service.AddControl(s.nc, service.Control{
		Service:     events.ServiceDev,
		Description: "wsheal dev supervisor: lists and restarts the processes of a dev stack",
		Timeout:     controlTimeout,
		Log:         s.log,
	},
		service.Handle(events.CtlDevRestart, r.restart),
		service.Handle(events.CtlDevList, s.list),
		service.Handle(events.CtlDevStatus, s.list),
		service.Handle(events.CtlDevNATS, s.natsOp),
	)
}

// restarts restarts one process at a time; the same id twice is done once.
type restarts struct {
	s    *Supervisor
	mu   sync.Mutex
	done map[string]events.RestartReply
}

func (r *restarts) restart(ctx context.Context, cmd *events.RestartCommand) (events.RestartReply, error) {
	p, err := r.s.proc(cmd.Node)
	if err != nil {
		return events.RestartReply{}, events.Errorf(events.CodeNotFound, "no process %q in this dev stack (wsheal dev ps lists them)", cmd.Node)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rep, ok := r.done[cmd.ID]; ok {
		return rep, nil
	}
	if err := p.restart(ctx, r.s.cfg.Bin); err != nil {
		return events.RestartReply{}, events.Errorf(events.CodeInternal, "restart %s: %v", cmd.Node, err)
	}
	rep := events.RestartReply{Process: p.info()}
	r.done[cmd.ID] = rep
	r.s.log.Info().Str("node", cmd.Node).Int("pid", rep.Process.PID).Str("command_id", cmd.ID).Msg("restarted on request")
	return rep, nil
}

func (s *Supervisor) list(context.Context, *events.Empty) (events.ProcessList, error) {
	var out events.ProcessList
	for _, p := range s.procs {
		out.Processes = append(out.Processes, p.info())
	}
	return out, nil
}

// natsOp stops, starts or lists the servers of the embedded cluster.
func (s *Supervisor) natsOp(ctx context.Context, cmd *events.NATSCommand) (events.NATSReply, error) {
	var err error
	switch cmd.Op {
	case events.NATSStop:
		err = s.nats.stopNode(cmd.Node)
	case events.NATSStart:
		err = s.nats.restartNode(ctx, cmd.Node)
	}
	if err != nil {
		return events.NATSReply{}, events.Errorf(events.CodeConflict, "%v", err)
	}
	if cmd.Op != events.NATSList {
		s.log.Warn().Str("nats", cmd.Node).Str("op", cmd.Op).Msg("NATS node changed on request")
	}
	return events.NATSReply{Running: s.nats.running(), URLs: s.nats.urls()}, nil
}
