package state_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/state"
)

// A record written by a replica that still called the case an incident
// (key "incident.<anomaly>", the same field names) is read as a Case, and
// a Case is written under that key with those names: replicas of either
// version read each other's records.
func TestCaseReadsAndWritesTheIncidentRecord(t *testing.T) {
	srv := natstest.Start(t)
	ctx := context.Background()
	_, js := srv.JetStream()
	s, err := state.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, events.BucketHealer)
	if err != nil {
		t.Fatal(err)
	}
	old := `{"anomaly_id":"node_down-n1-1","kind":"node_down","target":"n1","policy":"node-down",` +
		`"opened":"2026-01-02T03:04:05Z","current":2,"started_at":"2026-01-02T03:05:00Z","attempts":2,` +
		`"failures":1,"requested":2,"tried":["restart n1 (attempt 1)"],"last_skip":"cooldown","done":false,` +
		`"restore":["n1"],"restore_after":30000000000,"before":{"n1":"boot-a"}}`
	if _, err := kv.Put(ctx, "incident.node_down-n1-1", []byte(old)); err != nil {
		t.Fatal(err)
	}
	c, found, err := s.Case(ctx, "node_down-n1-1")
	if err != nil || !found {
		t.Fatalf("case not read: %v %v", found, err)
	}
	if c.Current != 2 || c.Failures != 1 || c.LastSkip != "cooldown" || c.Before["n1"] != "boot-a" ||
		c.RestoreAfter != 30*time.Second || len(c.Tried) != 1 || c.Policy != "node-down" {
		t.Fatalf("case read as %+v", c)
	}
	c.Attempts, c.Done, c.Outcome = 3, true, "succeeded: restart"
	if err := s.SaveCase(ctx, c); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "incident.node_down-n1-1")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(e.Value(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"anomaly_id", "kind", "target", "policy", "opened", "current", "started_at",
		"attempts", "failures", "requested", "tried", "last_skip", "done", "outcome", "restore", "restore_after", "before"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("field %q missing from the stored case %s", k, e.Value())
		}
	}
	if raw["attempts"] != float64(3) || raw["outcome"] != "succeeded: restart" {
		t.Fatalf("stored %s", e.Value())
	}
}
