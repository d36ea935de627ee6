package amwebhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

func TestPayload(t *testing.T) {
	got := make(chan Payload, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var p Payload
		if err := json.Unmarshal(raw, &p); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- p
	}))
	defer srv.Close()
	s := New(srv.URL, "team", "http://wsheal.local", srv.Client())
	inc := events.Incident{ID: "inc-2", Key: "k2", Severity: "SEV3", Title: "stale", State: events.IncidentResolved,
		OpenedAt: time.Unix(100, 0).UTC(), ResolvedAt: time.Unix(200, 0).UTC()}
	for _, tc := range []struct{ action, status string }{
		{sink.ActionTrigger, "firing"}, {sink.ActionResolve, "resolved"}, {sink.ActionSummary, "resolved"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			if _, err := s.Notify(context.Background(), sink.Message{Action: tc.action, Incident: inc}); err != nil {
				t.Fatal(err)
			}
			p := <-got
			a := p.Alerts[0]
			if p.Version != "4" || p.Status != tc.status || a.Status != tc.status || p.Receiver != "team" ||
				a.Labels["incident"] != "inc-2" || a.Fingerprint == "" || p.GroupKey == "" {
				t.Fatalf("payload %+v", p)
			}
			if tc.status == "resolved" && !a.EndsAt.Equal(inc.ResolvedAt) {
				t.Fatalf("endsAt %v", a.EndsAt)
			}
		})
	}
}
