// Package alertmanager pushes incidents into a Prometheus Alertmanager
// through its API v2 (POST /api/v2/alerts), as Prometheus itself does, so
// Alertmanager's routing, grouping, inhibition and silences apply to them.
//
// One incident is one alert. Its labels identify it and never change while
// it lives (Alertmanager tells alerts apart by their label set): alertname
// WshealIncident, incident, severity, kind, target and service. What
// changes (state, escalation level, acknowledgement, the review) goes in
// the annotations. A firing alert carries endsAt = now + hold, so an
// alert whose notifier died resolves itself after hold rather than
// firing forever; every trigger, escalation and repeat pushes it again.
// A resolve (and the summary of an incident healed without a page) sends
// endsAt = the resolution time: Alertmanager marks the alert resolved.
package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Path is where Alertmanager's API v2 takes alerts.
const Path = "/api/v2/alerts"

// AlertName is the alertname label of every incident.
const AlertName = "WshealIncident"

// maxAnnotation bounds an annotation (the review is the long one).
const maxAnnotation = 8 << 10

// Alert is one postable alert of API v2 (models.PostableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Sender posts to one Alertmanager.
type Sender struct {
	endpoint    string
	externalURL string
	hold        time.Duration
	client      *http.Client
	now         func() time.Time
}

// New returns a sender to the Alertmanager at base (http://host:9093,
// with any path prefix it is served under). externalURL, when set, is the
// alerts' generatorURL (the incident's id is added as a query); hold is
// how long a firing alert lasts unless pushed again.
func New(base, externalURL string, hold time.Duration, client *http.Client) *Sender {
	return &Sender{endpoint: strings.TrimRight(base, "/") + Path, externalURL: externalURL, hold: hold,
		client: client, now: time.Now}
}

// Notify implements sink.Sender. Alertmanager answers 200 to a good post,
// 400 to a bad one (not retried) and 5xx when it cannot take it (retried).
func (s *Sender) Notify(ctx context.Context, m sink.Message) (bool, error) {
	body, err := json.Marshal([]Alert{Build(m, s.externalURL, s.hold, s.now())})
	if err != nil {
		return false, fmt.Errorf("alertmanager: encode: %w", err)
	}
	return sink.Post(ctx, s.client, s.endpoint, body, nil)
}

// Resolved reports whether the message ends the alert.
func Resolved(m sink.Message) bool {
	return m.Action == sink.ActionResolve || m.Action == sink.ActionSummary
}

// Build renders a message as one alert, at time now.
func Build(m sink.Message, externalURL string, hold time.Duration, now time.Time) Alert {
	inc := m.Incident
	start := inc.ImpactStart
	if start.IsZero() {
		start = inc.OpenedAt
	}
	end := now.Add(hold)
	if Resolved(m) {
		end = inc.ResolvedAt
		if end.IsZero() {
			end = now
		}
	}
	if start.IsZero() || start.After(end) {
		start = end
	}
	labels := map[string]string{
		"alertname": AlertName,
		"incident":  inc.ID,
		"severity":  strings.ToLower(inc.Severity),
		"service":   "wsheal",
	}
	if len(inc.Kinds) > 0 {
		labels["kind"] = inc.Kinds[0]
	}
	if len(inc.Nodes) == 1 {
		labels["target"] = inc.Nodes[0]
	}
	ann := map[string]string{
		"summary":   inc.Title,
		"state":     inc.State,
		"action":    m.Action,
		"kinds":     strings.Join(inc.Kinds, ","),
		"nodes":     strings.Join(inc.Nodes, ","),
		"level":     strconv.Itoa(inc.Level),
		"dedup_key": inc.Key,
	}
	if m.Reason != "" {
		ann["reason"] = m.Reason
	}
	if !inc.AckedAt.IsZero() {
		ann["acknowledged"] = inc.AckedAt.UTC().Format(time.RFC3339)
	}
	if m.Review != "" {
		ann["description"] = truncate(m.Review, maxAnnotation)
	}
	return Alert{Labels: labels, Annotations: ann, StartsAt: start, EndsAt: end,
		GeneratorURL: generatorURL(externalURL, inc.ID)}
}

func generatorURL(base, id string) string {
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("incident", id)
	u.RawQuery = q.Encode()
	return u.String()
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}
