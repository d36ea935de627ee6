package contract_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestChannelLimitsProtectControlPlane: the channel stream is byte-limited
// with DiscardOld, republishes to the live subjects and answers direct
// gets; a flood keeps it under its limit (old messages go) while the
// control plane's buckets keep working; a service that ensures the
// contract without limits leaves the operator's settings alone.
func TestChannelLimitsProtectControlPlane(t *testing.T) {
	s := natstest.Start(t)
	_, js := s.JetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	limits := events.DefaultChannelLimits
	limits.MaxBytes, limits.MaxMsgSize = 256<<10, 8<<10
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1, Channels: &limits}); err != nil {
		t.Fatal(err)
	}
	payload := []byte(`"` + strings.Repeat("x", 4000) + `"`)
	for i := range 300 { // about 1.2 MB into a 256 KiB stream
		if _, err := js.Publish(ctx, events.ChannelSubject("flood"), payload); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if _, err := js.Publish(ctx, events.ChannelSubject("flood"), make([]byte, 9<<10)); !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		t.Fatalf("message over MaxMsgSize: %v", err)
	}
	st, err := js.Stream(ctx, events.StreamChannels)
	if err != nil {
		t.Fatal(err)
	}
	info := st.CachedInfo()
	if info.State.Bytes > uint64(limits.MaxBytes) || info.State.FirstSeq == 1 {
		t.Fatalf("stream holds %d bytes from seq %d, limit %d", info.State.Bytes, info.State.FirstSeq, limits.MaxBytes)
	}
	cfg := info.Config
	if cfg.Discard != jetstream.DiscardOld || !cfg.AllowDirect || cfg.RePublish == nil ||
		cfg.RePublish.Destination != events.LiveRoot+".>" {
		t.Fatalf("channel stream config %+v", cfg)
	}
	kv, err := js.KeyValue(ctx, events.BucketHealer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "paused", []byte("true")); err != nil {
		t.Fatalf("control plane write after the flood: %v", err)
	}
	// A control-plane service ensures the contract without limits.
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	info, err = st.Info(ctx)
	if err != nil || info.Config.MaxBytes != limits.MaxBytes {
		t.Fatalf("limits undone: %v %d", err, info.Config.MaxBytes)
	}
}
