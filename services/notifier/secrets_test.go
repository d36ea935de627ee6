package notifier

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// lockedBuffer is the log sink of the test: zerolog writes from many
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFailingSinkLeaksNoSecret: a Slack webhook URL is a secret. When the
// sink fails, the transport error names the URL; neither the outcome
// event, the incident stream, the incident record nor any log line may
// hold its secret part.
func TestFailingSinkLeaksNoSecret(t *testing.T) {
	const token = "sl4ckS3cretT0ken0123"
	e := newEnv(t)
	e.cfg.SlackURL = "http://127.0.0.1:1/services/T0001/B0002/" + token // refused: a transport error
	e.cfg.Escalation = "slack"
	e.cfg.RetryAttempts = 2
	var logs lockedBuffer
	log, err := service.Logger(&logs, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Instance = "leak"
	svc, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	outcomes, err := e.nc.SubscribeSync(events.NotificationsAll)
	if err != nil {
		t.Fatal(err)
	}
	beat, err := e.nc.SubscribeSync(events.ServiceHeartbeatSubject(events.ServiceNotifier, "leak"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	now := time.Now().UTC()
	a := nodeAnomaly(events.KindNodeDown, "gw-7", now.Add(-time.Second), now, 0.05)
	if _, err := beat.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("notifier sent no heartbeat: %v", err)
	}
	e.publishAnomaly(a)
	e.publishRemediation(&events.Remediation{ID: "rem-leak", AnomalyID: a.ID, Action: events.ActionRestart,
		Target: "gw-7", Phase: events.PhaseFailed, Attempt: 1, Detail: "container did not come back"})

	var failed *events.Notification
	deadline := time.Now().Add(20 * time.Second)
	for failed == nil && time.Now().Before(deadline) {
		m, err := outcomes.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		if strings.Contains(string(m.Data), token) {
			t.Fatalf("outcome event holds the secret: %s", m.Data)
		}
		ev, err := events.Decode(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := events.As[*events.Notification](ev); ok && n.Status == "failed" {
			failed = n
		}
	}
	if failed == nil || failed.Error == "" || !strings.Contains(failed.Error, "127.0.0.1:1") {
		t.Fatalf("no failed outcome with a useful, redacted error: %+v", failed)
	}
	var timeline string
	natstest.Eventually(t, 10*time.Second, func() bool {
		for _, i := range e.incidents() {
			var full events.Incident
			if e.control(events.VerbIncidentGet, events.IncidentRequest{Incident: i.ID}, &full) == nil {
				timeline = timelineText(full)
			}
		}
		return strings.Contains(timeline, "refused")
	}, "the failure in the incident timeline")
	if strings.Contains(timeline, token) {
		t.Fatalf("incident timeline holds the secret: %s", timeline)
	}
	assertStreamClean(t, e.js, events.StreamIncidents, token)
	assertStreamClean(t, e.js, "KV_"+events.BucketIncidents, token)
	if !strings.Contains(logs.String(), "notification failed") {
		t.Fatalf("the failure was not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), token) {
		t.Fatalf("a log line holds the secret:\n%s", logs.String())
	}
}

func timelineText(i events.Incident) string {
	var b strings.Builder
	for _, en := range i.Timeline {
		b.WriteString(en.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// assertStreamClean reads every message of a stream and fails on secret.
func assertStreamClean(t *testing.T, js jetstream.JetStream, stream, secret string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	total := info.CachedInfo().State.Msgs
	for seen := uint64(0); seen < total; seen++ {
		m, err := c.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatalf("%s: read %d of %d: %v", stream, seen, total, err)
		}
		if strings.Contains(string(m.Data()), secret) {
			t.Fatalf("%s %s holds the secret: %s", stream, m.Subject(), m.Data())
		}
	}
}
