package notifier

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/notifier/sink/alertmanager/amtest"
)

// An incident opened by the notifier shows as an alert in a real
// Alertmanager (API v2), is routed to the Alertmanager's receiver, and
// resolves there when the incident resolves; /metrics counts the
// deliveries and the incident.
func TestIncidentInRealAlertmanager(t *testing.T) {
	routed := make(chan string, 16)
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ Status string }
		_ = json.NewDecoder(r.Body).Decode(&p)
		routed <- p.Status
	}))
	defer rx.Close()
	am := amtest.Start(t, rx.URL)

	e := newEnv(t)
	e.cfg.AlertmanagerAPIURL, e.cfg.ExternalURL = am, "http://dashboard.example/"
	e.cfg.Escalation, e.cfg.SummarySinks = "alertmanager", "alertmanager"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Listen, e.cfg.MetricsToken = ln.Addr().String(), "notifier-metrics"
	ln.Close()
	e.start("a")

	now := time.Now().UTC()
	a := nodeAnomaly(events.KindNodeDown, "gw-7", now.Add(-time.Second), now, 0.6) // SEV1: paged at once
	e.publishAnomaly(a)
	inc := e.waitIncident(10*time.Second, func(i events.Incident) bool { return i.Severity == "SEV1" }, "SEV1 incident")

	ctx := context.Background()
	var alerts []amtest.Alert
	natstest.Eventually(t, 15*time.Second, func() bool {
		alerts, _ = amtest.Alerts(ctx, am)
		return len(alerts) == 1
	}, "the incident's alert in Alertmanager")
	if l := alerts[0].Labels; l["incident"] != inc.ID || l["severity"] != "sev1" || l["target"] != "gw-7" || l["kind"] != events.KindNodeDown {
		t.Fatalf("alert labels %v", l)
	}
	awaitRouted(t, routed, "firing")

	e.resolveAnomaly(a, time.Now().UTC())
	e.waitIncident(10*time.Second, func(i events.Incident) bool { return i.State == events.IncidentResolved }, "resolved")
	natstest.Eventually(t, 15*time.Second, func() bool {
		alerts, err := amtest.Alerts(ctx, am)
		return err == nil && len(alerts) == 0
	}, "the alert resolved in Alertmanager")
	awaitRouted(t, routed, "resolved")

	var m service.Series
	natstest.Eventually(t, 10*time.Second, func() bool {
		m, _ = service.Scrape(ctx, http.DefaultClient, "http://"+e.cfg.Listen+"/metrics", e.cfg.MetricsToken)
		return m[`wsheal_notifier_notifications_total{outcome="sent",sink="alertmanager"}`] >= 2
	}, "deliveries counted")
	for series, want := range map[string]float64{
		`wsheal_notifier_incidents{severity="SEV1",state="resolved"}`:               1,
		`wsheal_notifier_nats_connected`:                                            1,
		`wsheal_notifier_notifications_total{outcome="failed",sink="alertmanager"}`: 0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if _, ok := m[`wsheal_notifier_outbox_pending{sink="alertmanager"}`]; !ok {
		t.Errorf("no outbox depth: %v", m)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 401} {
		resp, err := http.Get("http://" + e.cfg.Listen + path)
		if err != nil || resp.StatusCode != want {
			t.Errorf("%s: %v %v, want %d", path, resp, err, want)
			continue
		}
		resp.Body.Close()
	}
}

func awaitRouted(t *testing.T, routed <-chan string, status string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-routed:
			if got == status {
				return
			}
		case <-deadline:
			t.Fatalf("Alertmanager routed no %s notification within 30s", status)
		}
	}
}
