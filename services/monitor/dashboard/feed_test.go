package dashboard_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

func encode(t testing.TB, p events.Payload) []byte {
	t.Helper()
	b, err := events.New(events.Source("test", "t1"), "wsheal.evt.test", p).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSummarize(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name        string
		p           events.Payload
		kind, level string
		text        string
	}{
		{"anomaly open", &events.Anomaly{ID: "a1", Kind: events.KindRTTDegraded, State: events.AnomalyOpen, Target: "gw-1", Severity: events.SeverityWarning, Summary: "p99 300ms", DetectedAt: now},
			"anomaly", dashboard.LevelWarning, "rtt_degraded gw-1 open: p99 300ms"},
		{"anomaly resolved", &events.Anomaly{ID: "a1", Kind: events.KindRTTDegraded, State: events.AnomalyResolved, Target: "gw-1", Severity: events.SeverityWarning, DetectedAt: now},
			"anomaly", dashboard.LevelOK, "rtt_degraded gw-1 resolved"},
		{"remediation failed", &events.Remediation{ID: "r1", Action: events.ActionRestart, Target: "gw-2", Phase: events.PhaseFailed, Attempt: 2, Detail: "no supervisor"},
			"remediation", dashboard.LevelError, "restart gw-2 failed (attempt 2) — no supervisor"},
		{"remediation dry run", &events.Remediation{ID: "r2", Action: events.ActionDrain, Target: "gw-2", Phase: events.PhaseSkipped, Reason: events.SkipDryRun, DryRun: true},
			"remediation", dashboard.LevelWarning, "drain gw-2 skipped [dry-run]: dry-run"},
		{"incident", &events.Incident{ID: "inc-1", State: events.IncidentTriggered, Severity: "SEV1", Title: "Gateway down", Change: "anomaly_opened", Nodes: []string{"gw-2"}},
			"incident", dashboard.LevelCritical, "inc-1 SEV1 triggered (anomaly_opened): Gateway down"},
		{"review", &events.Review{IncidentID: "inc-1", Summary: "healed in 9s", ResolvedAt: now},
			"review", dashboard.LevelOK, "review inc-1: healed in 9s"},
		{"drain progress", &events.Lifecycle{Node: "gw-3", Phase: events.LifecycleDraining, Moved: 10, Remaining: 5},
			"lifecycle", dashboard.LevelWarning, "gw-3 draining (moved 10, remaining 5)"},
		{"conn", &events.ConnEvent{Node: "gw-1", Kind: events.ConnStale, ConnID: "c9", Suppressed: 4},
			"conn", dashboard.LevelInfo, "gw-1 stale_close c9 (+4 suppressed)"},
		{"notification failed", &events.Notification{IncidentID: "inc-1", Sink: "slack", Action: "trigger", Status: "failed", Error: "timeout"},
			"notify", dashboard.LevelError, "trigger inc-1 via slack: failed timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it, ok := dashboard.Summarize(encode(t, c.p))
			if !ok || it.Kind != c.kind || it.Level != c.level || it.Text != c.text || it.ID == "" {
				t.Fatalf("got %+v %v, want %s/%s %q", it, ok, c.kind, c.level, c.text)
			}
		})
	}
	t.Run("skipped", func(t *testing.T) {
		for _, b := range [][]byte{
			encode(t, &events.Heartbeat{Node: "gw-1", URL: "ws://x", IntervalMS: 1000}),
			[]byte(`{"specversion":"1.0"`),
			[]byte(`not json`),
		} {
			if it, ok := dashboard.Summarize(b); ok {
				t.Fatalf("%s summarized as %+v", b, it)
			}
		}
	})
}

func FuzzSummarize(f *testing.F) {
	f.Add(encode(f, &events.Anomaly{ID: "a", Kind: "node_down", State: "open", Target: "gw-1", Severity: "critical", DetectedAt: time.Now()}))
	f.Add(encode(f, &events.Lifecycle{Node: "gw-1", Phase: "started"}))
	f.Add([]byte(`{"specversion":"1.0","id":"x","type":"io.wsheal.healer.v1.remediation","data":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, ok := dashboard.Summarize(b)
		if !ok {
			return
		}
		if it.Kind == "" || it.Level == "" {
			t.Fatalf("summarized without kind or level: %+v", it)
		}
		if _, err := json.Marshal(it); err != nil {
			t.Fatal(err)
		}
	})
}

// answer serves one control verb on the test NATS server the way a
// service does: a Reply with ok and data.
func answer(t *testing.T, nc *nats.Conn, subject string, reply func(req []byte) events.Reply) {
	t.Helper()
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		b, _ := json.Marshal(reply(m.Data))
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	// The server must know the subscription before the dashboard asks.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func ok(t *testing.T, v any) events.Reply {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return events.Reply{OK: true, Data: b}
}

func TestIncidentDetailJoinsTimelineAndReview(t *testing.T) {
	srv := natstest.Start(t)
	s := serve(t, srv)
	nc := srv.Conn()
	now := time.Now().UTC()
	incs := map[string]events.Incident{
		"inc-open": {ID: "inc-open", State: events.IncidentTriggered, Severity: "SEV2", Title: "gw-2 down",
			Timeline: []events.TimelineEntry{{Time: now, Kind: "anomaly", Text: "node_down opened on gw-2"}}},
		"inc-done": {ID: "inc-done", State: events.IncidentResolved, Severity: "SEV3", Title: "gw-1 slow"},
	}
	answer(t, nc, events.ControlSubject(events.ServiceNotifier, events.VerbIncidentGet), func(b []byte) events.Reply {
		var req events.IncidentRequest
		_ = json.Unmarshal(b, &req)
		inc, found := incs[req.Incident]
		if !found {
			return events.Reply{Error: events.Errorf(events.CodeNotFound, "no incident %s", req.Incident)}
		}
		return ok(t, inc)
	})
	answer(t, nc, events.ControlSubject(events.ServiceNotifier, events.VerbReview), func([]byte) events.Reply {
		return ok(t, events.Review{IncidentID: "inc-done", Summary: "auto-healed", MTTRMS: 9000, ResolvedAt: now})
	})
	cases := []struct {
		id     string
		code   int
		review bool
		want   string
	}{
		{"inc-open", http.StatusOK, false, "node_down opened on gw-2"},
		{"inc-done", http.StatusOK, true, "auto-healed"},
		{"inc-nope", http.StatusNotFound, false, "no incident inc-nope"},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			resp, err := http.Get(s.url + "/dash/incidents/" + c.id)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var raw json.RawMessage
			_ = json.NewDecoder(resp.Body).Decode(&raw)
			var det dashboard.IncidentDetail
			_ = json.Unmarshal(raw, &det)
			if resp.StatusCode != c.code || (det.Review != nil) != c.review || !strings.Contains(string(raw), c.want) {
				t.Fatalf("%d %s", resp.StatusCode, raw)
			}
		})
	}
}
