package service_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/service"
)

var errBoom = errors.New("boom")

// untilStopped is a member that runs until the group stops and returns
// the echo of the stop.
func untilStopped(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestGroupFirstErrorStopsTheOthers(t *testing.T) {
	g, gctx := service.NewGroup(context.Background(), zerolog.Nop())
	g.Go("waiter", untilStopped)
	g.Go("other", untilStopped)
	g.Go("broken", func(context.Context) error { return errBoom })
	err := g.Wait()
	if !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), "broken: ") {
		t.Fatalf("Wait: %v; want broken: boom", err)
	}
	if !errors.Is(context.Cause(gctx), errBoom) {
		t.Fatalf("the group's context ended by %v, want the member's error", context.Cause(gctx))
	}
}

func TestGroupCleanStopReturnsNil(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, _ := service.NewGroup(ctx, zerolog.Nop())
	started := make(chan struct{})
	var once sync.Once
	for _, name := range []string{"a", "b", "c"} {
		g.Go(name, func(ctx context.Context) error {
			once.Do(func() { close(started) })
			return untilStopped(ctx)
		})
	}
	<-started
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait after a stop: %v, want nil (the members' errors echo the stop)", err)
	}
}

func TestGroupMemberEndingCleanlyLeavesTheOthers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := service.NewGroup(ctx, zerolog.Nop())
	done := make(chan struct{})
	g.Go("once", func(context.Context) error { defer close(done); return nil })
	g.Go("loop", untilStopped)
	<-done
	if gctx.Err() != nil {
		t.Fatal("a member returning nil ended the group")
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if gctx.Err() == nil {
		t.Fatal("the group's context outlives Wait")
	}
}

func TestGroupPanicEndsTheGroupAsAnError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stopping bool // the panic happens once the group is stopping
	}{{"running", false}, {"stopping", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g, gctx := service.NewGroup(ctx, zerolog.New(zerolog.SyncWriter(&buf))) // parts log at once
			g.Go("loop", untilStopped)
			g.Go("buggy", func(ctx context.Context) error {
				if tc.stopping {
					<-ctx.Done()
				}
				panic(errBoom)
			})
			if tc.stopping {
				cancel()
			}
			err := g.Wait()
			if !errors.Is(err, service.ErrPanic) || !strings.Contains(err.Error(), "buggy") {
				t.Fatalf("Wait: %v; want ErrPanic naming buggy", err)
			}
			if gctx.Err() == nil {
				t.Fatal("the group runs on after a panic")
			}
			if log := buf.String(); !strings.Contains(log, "part panicked") || !strings.Contains(log, "group_test.go") {
				t.Fatalf("no log line with the panic's stack: %s", log)
			}
		})
	}
}

func TestGroupWithoutMembers(t *testing.T) {
	g, _ := service.NewGroup(context.Background(), zerolog.Nop())
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}
