package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// slackURL is a Slack webhook URL: its last part is a secret.
const slackURL = "https://hooks.slack.com/services/T0001/B0002/sl4ckS3cretT0ken0123"

// TestDashboardShowsNoSecret: an incident record or a notification event
// that holds a webhook URL in an error's text (written before redaction,
// or by anything that forgot it) reaches the browser redacted, through
// the incident API and through the live stream.
func TestDashboardShowsNoSecret(t *testing.T) {
	srv := natstest.Start(t)
	nc := srv.Conn()
	text := `trigger to slack: failed (Post "` + slackURL + `": dial tcp: i/o timeout)`
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName(events.ServiceNotifier), Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	inc := events.Incident{ID: "inc-1", State: events.IncidentTriggered,
		Timeline: []events.TimelineEntry{{Time: time.Now(), Kind: "notification", Text: text}}}
	err = svc.AddGroup(events.ControlGroup(events.ServiceNotifier)).AddEndpoint(events.VerbIncidentGet,
		micro.HandlerFunc(func(r micro.Request) { events.Respond(r, inc) }))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, srv)

	resp, err := http.Get(s.url + "/dash/incidents/inc-1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "hooks.slack.com") {
		t.Fatalf("GET /dash/incidents/inc-1 = %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "sl4ckS3cretT0ken0123") {
		t.Fatalf("the incident API shows the secret: %s", body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	frames := openStream(t, ctx, s.url)
	waitFrame(t, frames, 5*time.Second, func(f frame) bool { return f.event == "hello" })
	n := &events.Notification{IncidentID: "inc-1", Sink: "slack", Action: "trigger", Status: "failed", Error: text}
	publish(t, nc, events.NotificationSubject("slack", "inc-1"), n) // raw, past the emitter's redaction
	f := waitFrame(t, frames, 5*time.Second, func(f frame) bool {
		return f.event == "feed" && strings.Contains(f.data, "hooks.slack.com")
	})
	if strings.Contains(f.data, "sl4ckS3cretT0ken0123") {
		t.Fatalf("the live stream shows the secret: %s", f.data)
	}
}
