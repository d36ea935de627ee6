package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/rs/zerolog"
)

// ErrPanic wraps the error a Group returns for a member that panicked.
var ErrPanic = errors.New("service: panic")

// Group runs the parts of a process together: the loops of a service,
// the servers of `wsheal dev`. Each member runs with the group's context;
// the first member to fail ends that context, so the others stop, and
// Wait returns its error once every member has returned.
//
//   - A member that returns nil ends alone: the others keep running.
//   - A member that returns an error while the group runs ends the group;
//     Wait returns the error prefixed with the member's name. An error
//     returned once the group is stopping (its context ended first) is
//     the echo of the stop: it is logged at debug level, not returned, so
//     a clean stop returns nil.
//   - A member that panics is recovered, logged with its stack, and ends
//     the group with an error wrapping ErrPanic, whether or not the group
//     was already stopping: the other members stop cleanly (a gateway
//     drains its clients) and the process exits with the error instead of
//     dying in the middle of a write.
//
// The zero Group is not usable: build one with NewGroup. Go must not be
// called once Wait has returned.
type Group struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    zerolog.Logger
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error
}

// NewGroup returns a group and the context its members run with: it ends
// when ctx ends, when a member fails, and when Wait returns.
func NewGroup(ctx context.Context, log zerolog.Logger) (*Group, context.Context) {
	gctx, cancel := context.WithCancelCause(ctx)
	return &Group{ctx: gctx, cancel: cancel, log: log}, gctx
}

// Go starts f as a member named name (named in its error and its log
// lines).
func (g *Group) Go(name string, f func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.run(name, f)
	}()
}

// run calls f and records how it ended.
func (g *Group) run(name string, f func(ctx context.Context) error) {
	defer func() {
		if v := recover(); v != nil {
			g.log.Error().Str("part", name).Interface("panic", v).Bytes("stack", debug.Stack()).Msg("part panicked; stopping")
			g.fail(fmt.Errorf("%w: %s: %v", ErrPanic, name, v))
		}
	}()
	err := f(g.ctx)
	switch {
	case err == nil:
	case g.ctx.Err() != nil:
		g.log.Debug().Err(err).Str("part", name).Msg("part ended with an error while stopping")
	default:
		g.fail(fmt.Errorf("%s: %w", name, err))
	}
}

// fail records err if it is the first and ends the group.
func (g *Group) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.cancel(err)
}

// Wait waits for every member to return, ends the group's context and
// returns the error that ended the group, or nil.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel(context.Canceled)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}
