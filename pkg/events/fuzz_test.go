package events_test

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

func FuzzDecode(f *testing.F) {
	for _, p := range samples() {
		b, _ := events.New("src", "s", p).Encode()
		f.Add(b)
	}
	f.Add([]byte(`{"specversion":"1.0","id":"x","source":"s","type":"io.wsheal.gateway.v9.heartbeat","time":"2026-01-01T00:00:00Z","data":{}}`))
	f.Add([]byte(`{"specversion":"1.0","data":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := events.Decode(b)
		if err == nil {
			if ev.Payload == nil {
				t.Fatal("nil payload without error")
			}
			if _, err := ev.Encode(); err != nil {
				t.Fatalf("decoded event does not encode: %v", err)
			}
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"id":"c1","select":"ids","ids":["a"],"over_ms":10}`))
	f.Add([]byte(`{"id":"c1","max_conns":5}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = events.DecodeCommand(b, &events.ReconnectCommand{})
		_ = events.DecodeCommand(b, &events.ResizeCommand{})
		_ = events.DecodeCommand(b, &events.DrainCommand{})
		_ = events.DecodeCommand(b, &events.RestartCommand{})
		_ = events.DecodeReply(b, &events.GatewayStatus{})
	})
}
