package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/pipeline"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// receiver answers like the Events API v2, following a script of status
// codes (the last one repeats), and keeps what it accepted.
type receiver struct {
	mu       sync.Mutex
	script   []int
	requests int
	accepted []Event
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	code := r.script[min(r.requests, len(r.script)-1)]
	r.requests++
	body, _ := io.ReadAll(req.Body)
	switch code {
	case http.StatusAccepted:
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.RoutingKey == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid","errors":["bad"]}`))
			return
		}
		r.accepted = append(r.accepted, ev)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"` + ev.DedupKey + `"}`))
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(code)
	case http.StatusBadRequest:
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}`))
	default:
		w.WriteHeader(code)
	}
}

func (r *receiver) counts() (int, []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, append([]Event(nil), r.accepted...)
}

func message(action string) sink.Message {
	return sink.Message{ID: "m-" + action, Sink: sink.PagerDuty, Action: action, Level: 1,
		Incident: events.Incident{ID: "inc-1", Key: "wsheal/availability/100", Title: "nodes down", Severity: "SEV2",
			State: events.IncidentTriggered, Nodes: []string{"gw-1"}, Kinds: []string{events.KindNodeDown}}}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		script    []int
		requests  int
		ok        bool
		minWaited time.Duration
	}{
		{"accepted", []int{202}, 1, true, 0},
		{"429 honours Retry-After", []int{429, 202}, 2, true, 2 * time.Second},
		{"500 retried", []int{500, 502, 202}, 3, true, 0},
		{"400 not retried", []int{400}, 1, false, 0},
		{"gives up", []int{500}, 4, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &receiver{script: tc.script}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			var waited time.Duration
			p := pipeline.Pipeline{Sender: New(srv.URL, "rk-1", srv.Client()), Retry: pipeline.Retry{
				Attempts: 4, Initial: time.Millisecond,
				Sleep: func(_ context.Context, d time.Duration) error { waited += d; return nil },
			}}
			res := p.Send(context.Background(), message(sink.ActionTrigger), nil)
			n, acc := rcv.counts()
			if n != tc.requests || (res.Err == nil) != tc.ok || res.Attempts != tc.requests {
				t.Fatalf("requests %d attempts %d err %v; want %d requests, ok=%v", n, res.Attempts, res.Err, tc.requests, tc.ok)
			}
			if tc.ok && (len(acc) != 1 || acc[0].EventAction != "trigger" || acc[0].Payload.Severity != "error") {
				t.Fatalf("accepted %+v", acc)
			}
			if waited < tc.minWaited {
				t.Fatalf("waited %v, want at least %v", waited, tc.minWaited)
			}
			if !tc.ok && tc.requests == 1 && !errors.Is(res.Err, sink.ErrRejected) {
				t.Fatalf("err %v, want rejected", res.Err)
			}
		})
	}
}

func TestOneDedupKeyFromTriggerToResolve(t *testing.T) {
	rcv := &receiver{script: []int{202}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	s := New(srv.URL, "rk-1", srv.Client())
	for _, a := range []string{sink.ActionTrigger, sink.ActionAcknowledge, sink.ActionEscalate, sink.ActionResolve} {
		if _, err := s.Notify(context.Background(), message(a)); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	_, acc := rcv.counts()
	want := []string{"trigger", "acknowledge", "trigger", "resolve"}
	if len(acc) != len(want) {
		t.Fatalf("accepted %d events, want %d", len(acc), len(want))
	}
	for i, ev := range acc {
		if ev.EventAction != want[i] || ev.DedupKey != "wsheal/availability/100" || ev.RoutingKey != "rk-1" {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
}

func TestSummaryIsNotSent(t *testing.T) {
	ev, err := Build("rk", message(sink.ActionSummary))
	if ev != nil || err != nil {
		t.Fatalf("Build(summary) = %+v, %v; want nothing", ev, err)
	}
}

func TestPayloadUnder512KB(t *testing.T) {
	m := message(sink.ActionTrigger)
	for i := range 5000 {
		m.Incident.Timeline = append(m.Incident.Timeline, events.TimelineEntry{Kind: "note", Text: strings.Repeat("x", 200), Ref: string(rune('a' + i%26))})
	}
	m.Incident.Title = strings.Repeat("t", 5000)
	ev, err := Build("rk", m)
	if err != nil {
		t.Fatal(err)
	}
	body, err := Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) >= MaxPayload {
		t.Fatalf("body %d bytes", len(body))
	}
	if !ev.Payload.CustomDetails.Truncated || len(ev.Payload.Summary) > maxSummary {
		t.Fatalf("not truncated: %d timeline entries, summary %d", len(ev.Payload.CustomDetails.Timeline), len(ev.Payload.Summary))
	}
}

func TestSeverity(t *testing.T) {
	for sev, want := range map[string]string{"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "SEV4": "info", "": "info"} {
		if got := Severity(sev); got != want {
			t.Errorf("Severity(%q) = %q, want %q", sev, got, want)
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"status":"success","message":"Event processed","dedup_key":"k"}`))
	f.Add([]byte(`{"status":"invalid event","errors":["x"]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err == nil && r.Status != "success" {
			t.Fatalf("accepted status %q", r.Status)
		}
	})
}
