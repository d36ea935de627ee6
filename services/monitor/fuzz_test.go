package monitor

import (
	"encoding/json"
	"testing"
)

// The registry is written by gateways: whatever it holds, reading it
// must not panic, and a well-formed record is read.
func FuzzDecodeRegistration(f *testing.F) {
	f.Add([]byte(`{"node":"gw1","url":"ws://127.0.0.1:8080/ws","heartbeat_ms":1000}`))
	f.Add([]byte(`{"specversion":"1.0","data":{"url":"ws://x:1/ws","interval_ms":500}}`))
	f.Add([]byte(`{"data":"nope"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := decodeRegistration(b)
		var direct struct {
			URL string `json:"url"`
		}
		if json.Unmarshal(b, &direct) == nil && direct.URL != "" && r.URL != direct.URL {
			t.Fatalf("url %q read as %q", direct.URL, r.URL)
		}
	})
}
