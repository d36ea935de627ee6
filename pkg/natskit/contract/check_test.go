package contract_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestCheck: Check fails on an empty server, passes once Ensure ran, and
// fails again when a stream stops storing a contract subject.
func TestCheck(t *testing.T) {
	_, js := natstest.Start(t).JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	if err = events.Check(ctx, js); err != nil {
		t.Fatalf("natstest ensured the contract: %v", err)
	}
	st, err := js.Stream(ctx, events.StreamHealth)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.Subjects = []string{events.HealthAll}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := events.Check(ctx, js); !errors.Is(err, events.ErrContractMissing) {
		t.Fatalf("a stream without its subjects passed: %v", err)
	}
	if err := events.EnsureMode(ctx, js, events.EnsureCreate, events.EnsureOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := events.EnsureMode(ctx, js, events.EnsureCheck, events.EnsureOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteKeyValue(ctx, events.BucketHealer); err != nil {
		t.Fatal(err)
	}
	if err := events.Check(ctx, js); !errors.Is(err, events.ErrContractMissing) {
		t.Fatalf("a missing bucket passed: %v", err)
	}
	if err := events.ValidateEnsureMode("yes"); err == nil {
		t.Fatal("mode yes accepted")
	}
}
