package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/monitor/detect"
)

func TestHeldVerdictsRoundTripAndValidation(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	held := map[string]detect.Transition{
		heldKey(events.KindRTTDegraded, "gw-1"): {Kind: events.KindRTTDegraded, Target: "gw-1", Open: true, Start: start,
			Severity: events.SeverityError, Evidence: events.Evidence{Metric: "rtt_p99_ms", Value: 80}, Summary: "slow"},
	}
	b, err := encodeHeld(held)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHeld(b)
	if err != nil || len(got) != 1 || got[0].Target != "gw-1" || !got[0].Start.Equal(start) || got[0].Evidence.Value != 80 || !got[0].Open {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	bad := []struct{ name, body string }{
		{"not json", `{`},
		{"a kind never held", `[{"kind":"node_down","node":"gw-1","start":"2026-01-02T03:04:05Z","severity":"error"}]`},
		{"node_hung is judged by liveness, not held", `[{"kind":"node_hung","node":"gw-1","start":"2026-01-02T03:04:05Z","severity":"error"}]`},
		{"not a node id", `[{"kind":"rtt_degraded","node":"gw.>","start":"2026-01-02T03:04:05Z","severity":"error"}]`},
		{"the fleet is no node", `[{"kind":"rtt_degraded","node":"fleet","start":"2026-01-02T03:04:05Z","severity":"error"}]`},
		{"unknown severity", `[{"kind":"rtt_degraded","node":"gw-1","start":"2026-01-02T03:04:05Z","severity":"dire"}]`},
		{"no start", `[{"kind":"rtt_degraded","node":"gw-1","severity":"error"}]`},
		{"too large", `[` + strings.Repeat(" ", maxHeldBytes) + `]`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if got, err := decodeHeld([]byte(c.body)); err == nil {
				t.Fatalf("accepted: %+v", got)
			}
		})
	}
}

// Whatever the bucket holds under held.verdicts, decoding neither panics
// nor returns a verdict that is not a correlated kind on a node.
func FuzzDecodeHeld(f *testing.F) {
	f.Add([]byte(`[{"kind":"rtt_degraded","node":"gw-1","start":"2026-01-02T03:04:05Z","severity":"error","evidence":{"metric":"x","value":1}}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"kind":"stale_spike","node":"","start":"0001-01-01T00:00:00Z"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := decodeHeld(b)
		if err != nil {
			return
		}
		for _, tr := range list {
			if !detect.Correlated[tr.Kind] || events.ValidateToken(tr.Target) != nil || tr.Target == events.FleetTarget || tr.Start.IsZero() {
				t.Fatalf("decoded an unusable verdict %+v", tr)
			}
		}
	})
}
