package remedy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/remedy"
)

func encode(t testing.TB, an *events.Anomaly) []byte {
	b, err := events.New("/wsheal/monitor/test", events.AnomalySubject(an.Kind, an.Target), an).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeAnomaly(t *testing.T) {
	now := time.Now().UTC()
	good := events.Anomaly{ID: "a", Kind: events.KindNodeDown, State: events.AnomalyOpen, Target: "n1", Severity: events.SeverityError, DetectedAt: now}
	cases := []struct {
		name string
		edit func(*events.Anomaly)
		ok   bool
	}{
		{"good", func(*events.Anomaly) {}, true},
		{"target with a dot", func(a *events.Anomaly) { a.Target = "n.1" }, false},
		{"node with a wildcard", func(a *events.Anomaly) { a.Target, a.Nodes = events.FleetTarget, []string{"*"} }, false},
		{"bad state", func(a *events.Anomaly) { a.State = "maybe" }, false},
		{"long id", func(a *events.Anomaly) { a.ID = strings.Repeat("x", 600) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			an := good
			c.edit(&an)
			_, err := remedy.DecodeAnomaly(encode(t, &an))
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
	hb, _ := events.New("/x", "s", &events.Heartbeat{Node: "n1", URL: "ws://x", IntervalMS: 1}).Encode()
	if _, err := remedy.DecodeAnomaly(hb); err == nil {
		t.Fatal("a heartbeat decoded as an anomaly")
	}
}

func TestCommandIDIsStableAndBounded(t *testing.T) {
	a := remedy.CommandID("node_down-n1-1700000000", events.ActionRestart, 2)
	if a != "node_down-n1-1700000000.restart.2" || a != remedy.CommandID("node_down-n1-1700000000", events.ActionRestart, 2) {
		t.Fatalf("id %q", a)
	}
	long := remedy.CommandID(strings.Repeat("k", 300), events.ActionRestart, 1)
	if len(long) > 128 || events.NeedID(long) != nil {
		t.Fatalf("long id %q", long)
	}
	if long == remedy.CommandID(strings.Repeat("k", 301), events.ActionRestart, 1) {
		t.Fatal("distinct anomalies share an id")
	}
}

func FuzzDecodeAnomaly(f *testing.F) {
	now := time.Unix(1700000000, 0).UTC()
	f.Add(encode(f, &events.Anomaly{ID: "a", Kind: "node_down", State: "open", Target: "n1", Severity: "error", DetectedAt: now}))
	f.Add([]byte(`{"specversion":"1.0","id":"x","source":"s","type":"io.wsheal.monitor.v1.anomaly","time":"2024-01-01T00:00:00Z","data":{"id":"a","kind":"k","state":"open","target":"t.>","severity":"info","detected_at":"2024-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		an, err := remedy.DecodeAnomaly(b)
		if err != nil {
			return
		}
		if events.ValidateToken(an.Target) != nil || an.Validate() != nil {
			t.Fatalf("accepted an unusable anomaly %+v", an)
		}
		_ = events.AnomalySubject(an.Kind, an.Target)
		_ = remedy.CommandID(an.ID, events.ActionRestart, 1)
	})
}
