package state_test

import (
	"context"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

func open(t *testing.T) *state.Store {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	s, err := state.Open(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHandsOffSetListClear(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for _, n := range []string{"n2", "n1", "node:with:colons"} {
		if err := s.SetHandsOff(ctx, events.HandsOff{Node: n, Since: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetQuarantine(ctx, state.Quarantine{Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.HandsOff(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := s.ClearHandsOff(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	list, _ = s.HandsOff(ctx)
	if len(list) != 2 {
		t.Fatalf("after clear: %+v", list)
	}
	if q, _ := s.IsQuarantined(ctx, "n1"); q {
		t.Fatal("clearing hands-off kept the quarantine")
	}
	if off, _ := s.IsHandsOff(ctx, "node:with:colons"); !off {
		t.Fatal("a node id with odd characters lost its lock")
	}
}

func TestSwitchesDefaultAndSet(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	def := state.Switches{DryRun: true}
	sw, err := s.Switches(ctx, def)
	if err != nil || !sw.DryRun {
		t.Fatalf("default not applied: %+v %v", sw, err)
	}
	sw, err = s.SetSwitches(ctx, def, func(sw *state.Switches) { sw.Paused = true })
	if err != nil || !sw.Paused || !sw.DryRun {
		t.Fatalf("set: %+v %v", sw, err)
	}
	sw, _ = s.Switches(ctx, state.Switches{})
	if !sw.Paused || !sw.DryRun || !sw.Set {
		t.Fatalf("not persisted: %+v", sw)
	}
}

func TestBackoffAndHealsPersist(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	b := safety.Backoff{Base: time.Second, Max: time.Minute, Healthy: time.Hour}
	now := time.Now()
	for range 3 {
		if err := s.RecordAttempt(ctx, b, "n1", events.ActionRestart, now); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.Backoff(ctx, "n1", events.ActionRestart)
	if err != nil || a.Count != 3 {
		t.Fatalf("attempts %+v %v", a, err)
	}
	for range 2 {
		if err := s.RecordHeal(ctx, "n1", now, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := s.Heals(ctx, "n1"); len(h) != 2 {
		t.Fatalf("heals %v", h)
	}
	if entered, _ := s.EnterPanic(ctx, now); !entered {
		t.Fatal("first panic not entered")
	}
	if entered, _ := s.EnterPanic(ctx, now); entered {
		t.Fatal("panic entered twice")
	}
}

func TestPruneCases(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	for _, inc := range []state.Case{
		{AnomalyID: "old-done", Opened: old, Done: true},
		{AnomalyID: "old-open", Opened: old},
		{AnomalyID: "old-restore", Opened: old, Done: true, Restore: []string{"n1"}},
		{AnomalyID: "new-done", Opened: time.Now(), Done: true},
	} {
		if err := s.SaveCase(ctx, inc); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneCases(ctx, time.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want 1", n, err)
	}
	if _, found, _ := s.Case(ctx, "old-done"); found {
		t.Fatal("the old finished case is still there")
	}
	for _, id := range []string{"old-open", "old-restore", "new-done"} {
		if _, found, _ := s.Case(ctx, id); !found {
			t.Fatalf("%s was pruned", id)
		}
	}
}

func TestBudgetIsSharedByReplicas(t *testing.T) {
	srv := natstest.Start(t)
	ctx := context.Background()
	var stores []*state.Store
	for range 2 {
		_, js := srv.JetStream()
		s, err := state.Open(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	b := safety.Budget{Rate: 0.001, Burst: 3}
	now := time.Now()
	for i := range 3 {
		if ok, _, err := stores[i%2].TakeToken(ctx, b, now); err != nil || !ok {
			t.Fatalf("token %d: %v %v", i, ok, err)
		}
	}
	for _, s := range stores {
		if ok, wait, err := s.TakeToken(ctx, b, now); err != nil || ok || wait <= 0 {
			t.Fatalf("a replica spent beyond the shared burst: ok=%v wait=%v err=%v", ok, wait, err)
		}
	}
	if left, err := stores[0].Tokens(ctx, b, now); err != nil || left >= 1 {
		t.Fatalf("tokens left %v %v", left, err)
	}
}
