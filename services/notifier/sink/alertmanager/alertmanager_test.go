package alertmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/notifier/sink"
	"github.com/wsheal/wsheal/services/notifier/sink/alertmanager"
	"github.com/wsheal/wsheal/services/notifier/sink/alertmanager/amtest"
)

func incident(state string) events.Incident {
	return events.Incident{ID: "inc-7", Key: "node_down/gw-2", Title: "gw-2 is down", Severity: "SEV1", State: state,
		Kinds: []string{events.KindNodeDown}, Nodes: []string{"gw-2"}, OpenedAt: time.Now().Add(-time.Minute).UTC()}
}

// webhookLog is the receiver Alertmanager's route sends to.
type webhookLog struct{ got chan map[string]any }

func (w *webhookLog) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var p map[string]any
	_ = json.NewDecoder(r.Body).Decode(&p)
	w.got <- p
}

func (w *webhookLog) await(t *testing.T, status string) map[string]any {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case p := <-w.got:
			if p["status"] == status {
				return p
			}
		case <-deadline:
			t.Fatalf("alertmanager sent no %s notification within 30s", status)
		}
	}
}

func TestIncidentFiresAndResolvesInARealAlertmanager(t *testing.T) {
	hook := &webhookLog{got: make(chan map[string]any, 16)}
	rx := httptest.NewServer(hook)
	defer rx.Close()
	base := amtest.Start(t, rx.URL)
	s := alertmanager.New(base, "http://dash.example/incidents", time.Hour, http.DefaultClient)
	ctx := context.Background()

	inc := incident(events.IncidentTriggered)
	if retry, err := s.Notify(ctx, sink.Message{ID: "m1", Sink: sink.Alertmanager, Action: sink.ActionTrigger, Incident: inc}); err != nil {
		t.Fatalf("trigger: retry=%v %v", retry, err)
	}
	var alerts []amtest.Alert
	natstest.Eventually(t, 10*time.Second, func() bool {
		var err error
		if alerts, err = amtest.Alerts(ctx, base); err != nil {
			t.Fatal(err)
		}
		return len(alerts) == 1
	}, "the incident's alert in Alertmanager")
	if len(alerts) != 1 {
		t.Fatalf("alerts %+v, want the incident's", alerts)
	}
	a := alerts[0]
	want := map[string]string{"alertname": alertmanager.AlertName, "incident": "inc-7", "severity": "sev1",
		"kind": events.KindNodeDown, "target": "gw-2", "service": "wsheal"}
	if !maps.Equal(a.Labels, want) || a.Annotations["summary"] != "gw-2 is down" || a.Status.State != "active" ||
		!strings.Contains(a.GeneratorURL, "incident=inc-7") {
		t.Fatalf("alert %+v", a)
	}
	if p := hook.await(t, "firing"); p["receiver"] != "sink" {
		t.Fatalf("routed notification %v", p)
	}

	// An escalation updates the same alert (same labels), not a second one.
	inc.Level = 2
	if _, err := s.Notify(ctx, sink.Message{ID: "m2", Action: sink.ActionEscalate, Level: 2, Incident: inc}); err != nil {
		t.Fatal(err)
	}
	alerts, _ = amtest.Alerts(ctx, base)
	if len(alerts) != 1 || alerts[0].Annotations["level"] != "2" {
		t.Fatalf("after escalation: %+v", alerts)
	}

	inc = incident(events.IncidentResolved)
	inc.ResolvedAt = time.Now().UTC()
	if _, err := s.Notify(ctx, sink.Message{ID: "m3", Action: sink.ActionResolve, Incident: inc}); err != nil {
		t.Fatal(err)
	}
	hook.await(t, "resolved")
	if alerts, _ = amtest.Alerts(ctx, base); len(alerts) != 0 {
		t.Fatalf("resolved incident still listed: %+v", alerts)
	}
}

func TestAlertmanagerRefusalIsNotRetried(t *testing.T) {
	base := amtest.Start(t, "")
	// An alert without labels is refused with 400: a clear, final error.
	resp, err := http.Post(base+alertmanager.Path, "application/json", strings.NewReader(`[{"labels":{}}]`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	retry, err := sink.ClassifyStatus(resp.StatusCode, resp.Header, body)
	if retry || !errors.Is(err, sink.ErrRejected) {
		t.Fatalf("bad alert: retry=%v err=%v", retry, err)
	}
	// Nothing listens: retryable.
	s := alertmanager.New("http://127.0.0.1:1", "", time.Hour, &http.Client{Timeout: time.Second})
	if retry, err := s.Notify(context.Background(), sink.Message{Action: sink.ActionTrigger, Incident: incident(events.IncidentTriggered)}); !retry || err == nil {
		t.Fatalf("unreachable: retry=%v err=%v", retry, err)
	}
}

func TestBuildKeepsLabelsAcrossActions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	inc := incident(events.IncidentTriggered)
	fire := alertmanager.Build(sink.Message{Action: sink.ActionTrigger, Incident: inc}, "", time.Hour, now)
	inc.AckedAt, inc.State = now, events.IncidentAcknowledged
	ack := alertmanager.Build(sink.Message{Action: sink.ActionAcknowledge, Incident: inc}, "", time.Hour, now)
	inc.ResolvedAt, inc.State = now.Add(time.Minute), events.IncidentResolved
	res := alertmanager.Build(sink.Message{Action: sink.ActionResolve, Incident: inc, Review: strings.Repeat("é", 10000)}, "", time.Hour, now)
	if !maps.Equal(fire.Labels, ack.Labels) || !maps.Equal(fire.Labels, res.Labels) {
		t.Fatalf("labels changed: %v %v %v", fire.Labels, ack.Labels, res.Labels)
	}
	if !fire.EndsAt.Equal(now.Add(time.Hour)) || !res.EndsAt.Equal(inc.ResolvedAt) || ack.Annotations["acknowledged"] == "" {
		t.Fatalf("endsAt fire %v resolve %v, ack %v", fire.EndsAt, res.EndsAt, ack.Annotations)
	}
	if d := res.Annotations["description"]; len(d) > 9<<10 || !strings.HasSuffix(d, "…") {
		t.Fatalf("review not bounded: %d bytes", len(d))
	}
}
