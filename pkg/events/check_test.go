package events_test

import (
	"errors"
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

func TestDecodeSettings(t *testing.T) {
	good := `{"max_conns":100,"accept_rate":50,"accept_burst":10,"ping_interval_ms":5000,"pong_deadline_ms":5000,"idle_timeout_ms":0}`
	if _, err := events.DecodeSettings([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{`, `{"max_conns":0,"accept_rate":50,"accept_burst":10,"ping_interval_ms":5000,"pong_deadline_ms":5000}`,
		`{"max_conns":100,"accept_rate":0,"accept_burst":10,"ping_interval_ms":5000,"pong_deadline_ms":5000}`,
		`{"max_conns":100,"accept_rate":50,"accept_burst":10,"ping_interval_ms":1,"pong_deadline_ms":5000}`,
		`{"max_conns":100,"accept_rate":50,"accept_burst":10,"ping_interval_ms":5000,"pong_deadline_ms":5000,"idle_timeout_ms":-1}`,
	} {
		if _, err := events.DecodeSettings([]byte(bad)); !errors.Is(err, events.ErrSettings) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func FuzzDecodeSettings(f *testing.F) {
	f.Add([]byte(`{"max_conns":100,"accept_rate":50,"accept_burst":10,"ping_interval_ms":5000,"pong_deadline_ms":5000}`))
	f.Add([]byte(`{"max_conns":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := events.DecodeSettings(b)
		if err == nil && (s.MaxConns < 1 || s.AcceptRate <= 0 || s.PingIntervalMS < events.MinSettingsPeriodMS) {
			t.Fatalf("accepted %+v", s)
		}
	})
}

func TestRegistrationURLs(t *testing.T) {
	hosts := events.Hosts{"gw-1", ".example.com"}
	own := events.Hosts{"127.0.0.1", events.NodeHost}
	cases := []struct {
		url, internal string
		hosts         events.Hosts
		ok            bool
	}{
		// {node}: a scaled node is probed at its own name, and only there.
		{"ws://127.0.0.1:8080/node/gw-1/ws", "http://gw-1:8080", own, true},
		{"ws://127.0.0.1:8080/node/gw-1/ws", "http://GW-1:8080", own, true},
		{"ws://127.0.0.1:8080/node/gw-1/ws", "http://gw-2:8080", own, false},
		{"ws://gw-2:8080/ws", "", own, false},
		{"ws://127.0.0.1:8080/ws", "http://nats-1:8080", own, false},
		{"ws://127.0.0.1:8081/ws", "http://gw-1:8080", nil, true},
		{"https://evil.example/login", "", nil, true},
		{"https://evil.example/login", "", hosts, false},
		{"wss://a.example.com/ws", "http://gw-1:8080", hosts, true},
		{"wss://example.com/ws", "", hosts, false},
		{"ws://gw-1:8080/ws", "http://evil.example", hosts, false},
		{"javascript:alert(1)", "", nil, false},
		{"file:///etc/passwd", "", nil, false},
		{"ws://user:pw@gw-1/ws", "", nil, false},
	}
	for _, tc := range cases {
		r := events.Registration{Node: "gw-1", URL: tc.url, InternalURL: tc.internal}
		if err := r.CheckURLs(tc.hosts); (err == nil) != tc.ok {
			t.Errorf("%s %s %v: err = %v", tc.url, tc.internal, tc.hosts, err)
		}
	}
	if _, err := events.DecodeRegistration([]byte(`{"node":"gw-1","url":"javascript:x"}`)); !errors.Is(err, events.ErrRegistration) {
		t.Fatalf("a javascript: URL was accepted: %v", err)
	}
}
