package healer_test

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

// FuzzControlCommands feeds the healer's control verbs' request decoding
// (the strict decoder with the healer's command types) arbitrary bytes.
func FuzzControlCommands(f *testing.F) {
	f.Add([]byte(`{"node":"n1","on":true,"reason":"x"}`))
	f.Add([]byte(`{"on":false}`))
	f.Add([]byte(`{"limit":10,"target":"n1"}`))
	f.Add([]byte(`{"reason":"r","by":"me"}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h events.HandsOffCommand
		if events.DecodeCommand(b, &h) == nil && (h.On == nil || events.ValidateToken(h.Node) != nil) {
			t.Fatalf("accepted %+v", h)
		}
		var d events.HealerDryRunCommand
		if events.DecodeCommand(b, &d) == nil && d.On == nil {
			t.Fatal("accepted a dry-run command without on")
		}
		var a events.HealerActionsRequest
		if events.DecodeCommand(b, &a) == nil && (a.Limit < 0 || a.Limit > 500) {
			t.Fatalf("accepted limit %d", a.Limit)
		}
		var p events.HealerPauseCommand
		_ = events.DecodeCommand(b, &p)
		var r events.HealerResumeCommand
		_ = events.DecodeCommand(b, &r)
	})
}
