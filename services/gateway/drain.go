package gateway

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/services/gateway/fleet"
	"github.com/wsheal/wsheal/services/gateway/pool"
	"github.com/wsheal/wsheal/services/gateway/session"
)

// drainRun is a drain in progress.
type drainRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	total  int
	over   time.Duration
}

// hintJitter spreads the reconnects of one pacing step.
const hintJitter = 50 * time.Millisecond

// ctlDrain stops admission and moves every client to other nodes.
func (s *Service) ctlDrain(ctx context.Context, cmd *events.DrainCommand) (events.DrainReply, error) {
	return once(ctx, s, cmd.ID, func(ctx context.Context) (events.DrainReply, error) {
		over := s.cfg.DrainOver
		if cmd.OverMS > 0 {
			over = time.Duration(cmd.OverMS) * time.Millisecond
		}
		reason := cmd.Reason
		if reason == "" {
			reason = "drain command " + cmd.ID
		}
		run, err := s.startDrain(s.runCtx(), cmd.Target, over, reason)
		if err != nil {
			return events.DrainReply{}, err
		}
		return events.DrainReply{Connections: run.total, OverMS: run.over.Milliseconds()}, nil
	})
}

// ctlUndrain makes the node accept again, stopping a drain in progress.
func (s *Service) ctlUndrain(ctx context.Context, cmd *events.UndrainCommand) (events.GatewayStatus, error) {
	return once(ctx, s, cmd.ID, func(ctx context.Context) (events.GatewayStatus, error) {
		s.drainMu.Lock()
		run := s.drain
		s.drain = nil
		s.pool.SetDraining(false)
		s.drainMu.Unlock()
		if run != nil {
			run.cancel()
			<-run.done
		}
		s.lifecycle(ctx, events.LifecycleUndrained, "undrain command "+cmd.ID, s.pool.Len(), 0)
		return s.status(), nil
	})
}

// runCtx is the node's lifetime context (ended by Kill or the end of Run).
func (s *Service) runCtx() context.Context { return s.life }

// startDrain stops admission and moves every connection over the
// duration. A drain already running is returned as is.
func (s *Service) startDrain(ctx context.Context, target string, over time.Duration, reason string) (*drainRun, error) {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	if s.drain != nil {
		select {
		case <-s.drain.done:
		default:
			return s.drain, nil
		}
	}
	picker, err := s.picker(target)
	if err != nil {
		return nil, err
	}
	s.pool.SetDraining(true)
	conns := s.pool.Conns(nil)
	dctx, cancel := context.WithCancel(ctx)
	run := &drainRun{cancel: cancel, done: make(chan struct{}), total: len(conns), over: over}
	s.drain = run
	go s.runDrain(dctx, run, conns, picker, reason)
	return run, nil
}

func (s *Service) runDrain(ctx context.Context, run *drainRun, conns []*pool.Conn, picker *fleet.Picker, reason string) {
	defer close(run.done)
	defer run.cancel()
	s.lifecycle(ctx, events.LifecycleDraining, reason, len(conns), 0)
	last := time.Now()
	progress := func(moved int) {
		if time.Since(last) >= time.Second {
			last = time.Now()
			s.lifecycle(ctx, events.LifecycleDraining, reason, s.pool.Len(), moved)
		}
	}
	moved := s.pool.Move(ctx, conns, run.over, frame.CloseDrain, s.hint(picker, "drain"), progress)
	if ctx.Err() != nil {
		return // undrained or stopped
	}
	// Let the last closes finish so that "drained" reports what is left.
	deadline := time.Now().Add(2 * time.Second)
	for s.pool.Len() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	s.lifecycle(ctx, events.LifecycleDrained, reason, s.pool.Len(), moved)
	s.log.Info().Int("moved", moved).Int("remaining", s.pool.Len()).Msg("drained")
}

// hint builds each client's reconnect frame: a target from the picker and
// a small jitter within the pacing step.
func (s *Service) hint(picker *fleet.Picker, reason string) func(*pool.Conn) []byte {
	return func(*pool.Conn) []byte {
		return session.Reconnect(rand.Int64N(hintJitter.Milliseconds()+1), picker.Pick(), reason)
	}
}

// picker spreads clients over the other fresh nodes, or sends them all to
// target if one is named.
func (s *Service) picker(target string) (*fleet.Picker, error) {
	now := time.Now()
	if target != "" {
		reg, ok := s.registry.Get(target)
		if !ok || !reg.Fresh(now) || reg.Draining {
			return nil, events.Errorf(events.CodeNotFound, "target node %q is not in the registry, not fresh or draining", target)
		}
		return fleet.NewPicker([]fleet.Registration{reg}), nil
	}
	return fleet.NewPicker(s.registry.Candidates(s.cfg.Node, now)), nil
}

// ctlReconnect sends a selection of clients elsewhere, paced.
func (s *Service) ctlReconnect(ctx context.Context, cmd *events.ReconnectCommand) (events.ReconnectReply, error) {
	return once(ctx, s, cmd.ID, func(ctx context.Context) (events.ReconnectReply, error) {
		picker, err := s.picker(cmd.Target)
		if err != nil {
			return events.ReconnectReply{}, err
		}
		now := time.Now()
		conns := s.pool.Conns(s.selector(cmd.Select, cmd.IDs, now))
		n := len(conns)
		if cmd.Count > 0 {
			n = min(n, cmd.Count)
		}
		if cmd.Fraction > 0 {
			n = min(n, int(math.Ceil(cmd.Fraction*float64(s.pool.Len()))))
		}
		rand.Shuffle(len(conns), func(i, j int) { conns[i], conns[j] = conns[j], conns[i] })
		conns = conns[:n]
		over := time.Duration(cmd.OverMS) * time.Millisecond
		go s.pool.Move(s.runCtx(), conns, over, frame.CloseReconnect, s.hint(picker, "reconnect"), nil)
		return events.ReconnectReply{Selected: n, OverMS: cmd.OverMS}, nil
	})
}

// selector returns the filter of a status or reconnect selection.
func (s *Service) selector(sel string, ids []string, now time.Time) func(*pool.Conn) bool {
	switch sel {
	case events.SelectStale:
		return func(c *pool.Conn) bool { return s.pool.IsStale(c, now) }
	case events.SelectIdle:
		return func(c *pool.Conn) bool { return s.pool.IsIdle(c, now) }
	case events.SelectIDs:
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		return func(c *pool.Conn) bool { return want[c.ID()] }
	}
	return nil
}
