package compose

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

// TestNATSPermissionsHealerRecord: the healer user reads and updates its
// record bucket (made by the operator's setup) with revision checks and
// lists its keys; a gateway may not write to it.
func TestNATSPermissionsHealerRecord(t *testing.T) {
	url := authServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	op, err := jetstream.New(dial(t, url, "operator").Conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Ensure(ctx, op, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	h, err := jetstream.New(dial(t, url, "healer").Conn)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := h.KeyValue(ctx, events.BucketRecord)
	if err != nil {
		t.Fatalf("the healer cannot bind %s: %v", events.BucketRecord, err)
	}
	rev, err := kv.Create(ctx, "node_down.node.restart", []byte(`{"remedy":"restart","attempts":1}`))
	if err != nil {
		t.Fatalf("the healer cannot create a record: %v", err)
	}
	if _, err := kv.Update(ctx, "node_down.node.restart", []byte(`{"remedy":"restart","attempts":2}`), rev); err != nil {
		t.Fatalf("the healer cannot update a record: %v", err)
	}
	if e, err := kv.Get(ctx, "node_down.node.restart"); err != nil || e.Revision() <= rev {
		t.Fatalf("the healer cannot read a record: %v", err)
	}
	lister, err := kv.ListKeysFiltered(ctx, "node_down.>")
	if err != nil {
		t.Fatalf("the healer cannot list records: %v", err)
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	if n != 1 {
		t.Fatalf("listed %d records", n)
	}
	gw := dial(t, url, "gateway")
	if err := gw.Publish("$KV."+events.BucketRecord+".node_down.node.restart", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_ = gw.Flush()
	if !gw.denied("publish", "$KV."+events.BucketRecord+".node_down.node.restart", 2*time.Second) {
		t.Fatal("a gateway wrote to the healer's record")
	}
}
