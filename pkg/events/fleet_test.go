package events_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestDecodeRegistration(t *testing.T) {
	r, err := events.DecodeRegistration([]byte(`{"node":"gw-1","url":"ws://a/ws","internal_url":"http://gw-1:8080","connections":3,"capacity":10,"draining":true,"updated_at":"2026-01-01T00:00:00Z","heartbeat_ms":1000,"future":{"x":1}}`))
	if err != nil || r.Node != "gw-1" || r.Connections != 3 || !r.Draining || r.UpdatedAt.IsZero() || r.InternalURL == "" {
		t.Fatalf("%+v %v", r, err)
	}
	if !r.Fresh(r.UpdatedAt.Add(2*time.Second)) || r.Fresh(r.UpdatedAt.Add(4*time.Second)) {
		t.Fatal("fresh for three heartbeats only")
	}
	for _, bad := range []string{`{`, `[]`, `{"url":"ws://a"}`, `{"node":"a.b"}`, `{"node":"n","connections":-1}`, `{"node":"n","heartbeat_ms":-5}`} {
		if _, err := events.DecodeRegistration([]byte(bad)); !errors.Is(err, events.ErrRegistration) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func FuzzDecodeRegistration(f *testing.F) {
	f.Add([]byte(`{"node":"gw-1","url":"ws://127.0.0.1:8080/ws","heartbeat_ms":1000}`))
	f.Add([]byte(`{"node":"n","connections":-1}`))
	f.Add([]byte(`{"node":"n","url":"javascript:alert(1)","internal_url":"http://u:p@h"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := events.DecodeRegistration(b)
		if err != nil {
			return
		}
		if events.ValidateToken(r.Node) != nil || r.Connections < 0 || r.Capacity < 0 || r.CheckURLs(nil) != nil {
			t.Fatalf("accepted %+v", r)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
