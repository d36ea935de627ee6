package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestValidateToken(t *testing.T) {
	for _, tc := range []struct {
		tok string
		ok  bool
	}{
		{"gw-1", true}, {"node_2:a", true}, {"", false}, {"a.b", false}, {"a*", false},
		{">", false}, {"a b", false}, {"a\tb", false}, {"a\nb", false}, {strings.Repeat("x", 129), false},
	} {
		t.Run(tc.tok, func(t *testing.T) {
			err := events.ValidateToken(tc.tok)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateToken(%q) = %v, want ok=%v", tc.tok, err, tc.ok)
			}
			if err != nil && !errors.Is(err, events.ErrBadToken) {
				t.Fatalf("error %v does not wrap ErrBadToken", err)
			}
		})
	}
}

func TestSubjectsAreUnderTheirRoots(t *testing.T) {
	for subj, pattern := range map[string]string{
		events.HeartbeatSubject("gw-1"):                  events.HeartbeatsAll,
		events.HealthSubject("gw-1"):                     events.HealthAll,
		events.ConnSubject("gw-1"):                       events.ConnEventsAll,
		events.LifecycleSubject("gw-1"):                  events.LifecycleAll,
		events.ServiceHeartbeatSubject("healer", "h1"):   events.ServiceHeartbeatsAll,
		events.AnomalySubject(events.KindNodeDown, "g"):  events.AnomaliesAll,
		events.RemediationSubject("drain", "g"):          events.RemediationsAll,
		events.IncidentSubject("i1"):                     events.IncidentsAll,
		events.NotificationSubject("slack", "i1"):        events.NotificationsAll,
		events.ReviewSubject("i1"):                       events.ReviewsAll,
		events.ChannelSubject("news"):                    events.DataAll,
		events.GatewayControlSubject("gw-1", "drain"):    events.ControlAll,
		events.ControlSubject(events.ServiceHealer, "x"): events.ControlAll,
	} {
		if !events.SubjectMatches(pattern, subj) {
			t.Errorf("%s does not match %s", subj, pattern)
		}
		if strings.HasPrefix(subj, "wsheal.evt.") && !events.SubjectMatches(events.EventsAll, subj) {
			t.Errorf("%s not under %s", subj, events.EventsAll)
		}
	}
	if events.SubjectMatches(events.EventsAll, events.ChannelSubject("x")) {
		t.Error("channel subjects must not be under the events root")
	}
	if got := events.ChannelName(events.ChannelSubject("chat:1")); got != "chat:1" {
		t.Errorf("ChannelName = %q", got)
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"a.>", "a.b", true}, {"a.>", "a", false}, {"a.*.c", "a.b.c", true}, {"a.*.c", "a.b.d", false},
		{"a.b", "a.b", true}, {"a.b", "a.b.c", false}, {"a.*", "a", false},
	} {
		if got := events.SubjectMatches(tc.p, tc.s); got != tc.want {
			t.Errorf("SubjectMatches(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestStreamFor(t *testing.T) {
	if got := events.StreamFor(events.HeartbeatSubject("g")); got != "" {
		t.Errorf("heartbeats must not be stored, got %s", got)
	}
	if got := events.StreamFor(events.AnomalySubject("node_down", "g")); got != events.StreamAnomalies {
		t.Errorf("anomaly stored in %q", got)
	}
	if got := events.StreamFor(events.HealthSubject("g")); got != events.StreamHealth {
		t.Errorf("health stored in %q", got)
	}
}

// samples holds one valid payload of every registered type.
func samples() []events.Payload {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return []events.Payload{
		&events.Heartbeat{Node: "gw-1", URL: "ws://127.0.0.1:8080/ws", Seq: 3, Connections: 5, Capacity: 100, IntervalMS: 1000, StartedAt: now, Version: "x"},
		&events.Health{Node: "gw-1", IntervalMS: 5000, Closed: map[string]int{events.CauseStale: 2}, RTT: events.RTT{P99: 3.5}},
		&events.ConnEvent{Node: "gw-1", Kind: events.ConnStale, ConnID: "c1"},
		&events.Lifecycle{Node: "gw-1", Phase: events.LifecycleStopping},
		&events.ServiceHeartbeat{Service: "healer", Instance: "h1", IntervalMS: 1000},
		&events.Anomaly{ID: events.AnomalyID(events.KindNodeDown, "gw-1", now), Kind: events.KindNodeDown, State: events.AnomalyOpen,
			Target: "gw-1", Severity: events.SeverityCritical, DetectedAt: now, ImpactStart: now},
		&events.Remediation{ID: "r1", AnomalyID: "a1", Action: events.ActionDrain, Target: "gw-1", Phase: events.PhaseRequested},
		&events.Incident{ID: "i1", State: events.IncidentTriggered, Severity: "SEV2"},
		&events.Notification{IncidentID: "i1", Sink: "slack", Status: "sent"},
		&events.Review{IncidentID: "i1", ResolvedAt: now},
	}
}

func TestEveryTypeRoundTrips(t *testing.T) {
	got := map[string]bool{}
	for _, p := range samples() {
		t.Run(p.EventType(), func(t *testing.T) {
			ev := events.New(events.Source("test", "t1"), "s", p)
			b, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := events.Decode(b)
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, b)
			}
			if back.ID != ev.ID || back.Type != p.EventType() || back.SpecVersion != "1.0" {
				t.Fatalf("envelope mismatch: %+v", back.Envelope)
			}
			a, _ := json.Marshal(p)
			c, _ := json.Marshal(back.Payload)
			if string(a) != string(c) {
				t.Fatalf("payload changed:\n%s\n%s", a, c)
			}
			got[p.EventType()] = true
		})
	}
	for _, typ := range events.Types() {
		if !got[typ] {
			t.Errorf("registered type %s has no round-trip sample", typ)
		}
	}
}

func TestDeterministicIDs(t *testing.T) {
	w := time.Unix(1700000000, 0)
	a := &events.Anomaly{ID: events.AnomalyID(events.KindNodeDown, "gw-1", w), State: events.AnomalyOpen}
	if e1, e2 := events.New("s", "x", a), events.New("s2", "x", a); e1.ID != e2.ID {
		t.Fatalf("ids differ: %s %s", e1.ID, e2.ID)
	}
	r := *a
	r.State = events.AnomalyResolved
	if events.New("s", "x", a).ID == events.New("s", "x", &r).ID {
		t.Fatal("open and resolved share an id")
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := func(mut func(m map[string]any)) []byte {
		ev := events.New("src", "", &events.Heartbeat{Node: "n", URL: "u", IntervalMS: 1000})
		b, _ := ev.Encode()
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mut(m)
		out, _ := json.Marshal(m)
		return out
	}
	for _, tc := range []struct {
		name  string
		in    []byte
		want  error
		field string
	}{
		{"garbage", []byte("{nope"), events.ErrMalformed, ""},
		{"oversize", make([]byte, events.MaxEventSize+1), events.ErrOversize, ""},
		{"unknown type", valid(func(m map[string]any) { m["type"] = "io.wsheal.gateway.v1.nonesuch" }), events.ErrUnknownType, "type"},
		{"foreign type", valid(func(m map[string]any) { m["type"] = "com.example.thing" }), events.ErrUnknownType, "type"},
		{"wrong version", valid(func(m map[string]any) { m["type"] = "io.wsheal.gateway.v2.heartbeat" }), events.ErrWrongVersion, "type"},
		{"wrong specversion", valid(func(m map[string]any) { m["specversion"] = "0.3" }), events.ErrWrongVersion, "specversion"},
		{"no id", valid(func(m map[string]any) { delete(m, "id") }), events.ErrMissingField, "id"},
		{"no time", valid(func(m map[string]any) { delete(m, "time") }), events.ErrMissingField, "time"},
		{"no data", valid(func(m map[string]any) { delete(m, "data") }), events.ErrMissingField, "data"},
		{"data not object", valid(func(m map[string]any) { m["data"] = []int{1} }), events.ErrInvalidField, "data"},
		{"missing node", valid(func(m map[string]any) { delete(m["data"].(map[string]any), "node") }), events.ErrMissingField, "node"},
		{"bad interval", valid(func(m map[string]any) { m["data"].(map[string]any)["interval_ms"] = 0 }), events.ErrInvalidField, "interval_ms"},
		{"data wrong type", valid(func(m map[string]any) { m["data"].(map[string]any)["node"] = 5 }), events.ErrMalformed, "data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *events.DecodeError
			if !errors.As(err, &de) || de.Field != tc.field {
				t.Fatalf("field = %+v, want %q", de, tc.field)
			}
		})
	}
}

func TestDecodeToleratesAddedFields(t *testing.T) {
	ev := events.New("src", "", &events.Heartbeat{Node: "n", URL: "u", IntervalMS: 1000})
	b, _ := ev.Encode()
	b = []byte(strings.Replace(string(b), `"node":"n"`, `"node":"n","future_field":7`, 1))
	if _, err := events.Decode(b); err != nil {
		t.Fatalf("an added field must be tolerated within a version: %v", err)
	}
}

func TestDecodeCommand(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       error
	}{
		{"ok", `{"id":"c1","select":"stale"}`, nil},
		{"unknown field", `{"id":"c1","select":"stale","fraktion":0.5}`, events.ErrMalformed},
		{"no id", `{"select":"stale"}`, events.ErrMissingField},
		{"empty select", `{"id":"c1"}`, events.ErrMissingField},
		{"bad select", `{"id":"c1","select":"every"}`, events.ErrInvalidField},
		{"ids without ids", `{"id":"c1","select":"ids"}`, events.ErrMissingField},
		{"fraction > 1", `{"id":"c1","select":"all","fraction":2}`, events.ErrInvalidField},
		{"trailing", `{"id":"c1","select":"all"} {}`, events.ErrMalformed},
		{"not json", `drain please`, events.ErrMalformed},
		{"oversize", `{"id":"` + strings.Repeat("x", events.MaxCommandSize) + `"}`, events.ErrOversize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c events.ReconnectCommand
			err := events.DecodeCommand([]byte(tc.body), &c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCommandValidation(t *testing.T) {
	neg := -1
	zero := 0.0
	for _, tc := range []struct {
		name string
		cmd  events.Command
		ok   bool
	}{
		{"resize nothing", &events.ResizeCommand{ID: "x"}, false},
		{"resize reset", &events.ResizeCommand{ID: "x", Reset: true}, true},
		{"resize negative", &events.ResizeCommand{ID: "x", MaxConns: &neg}, false},
		{"resize zero rate", &events.ResizeCommand{ID: "x", AcceptRate: &zero}, false},
		{"drain", &events.DrainCommand{ID: "x", OverMS: 1000}, true},
		{"drain bad target", &events.DrainCommand{ID: "x", Target: "a.b"}, false},
		{"drain too long", &events.DrainCommand{ID: "x", OverMS: 1 << 40}, false},
		{"undrain no id", &events.UndrainCommand{}, false},
		{"restart", &events.RestartCommand{ID: "x", Node: "gw-1"}, true},
		{"restart bad node", &events.RestartCommand{ID: "x", Node: "gw 1"}, false},
		{"status bad select", &events.GatewayStatusRequest{Select: "x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cmd.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
