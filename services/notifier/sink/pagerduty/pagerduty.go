// Package pagerduty is the PagerDuty Events API v2 sink: trigger,
// acknowledge and resolve with one stable dedup_key per incident (the
// incident's Key), SEV1..SEV4 mapped to critical..info, and a payload kept
// under PagerDuty's 512 KB limit.
package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// DefaultURL is the Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// MaxPayload is PagerDuty's limit on an event; bodies stay below it.
const MaxPayload = 512 << 10

// maxSummary is PagerDuty's limit on payload.summary.
const maxSummary = 1024

// Event is an Events API v2 request.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"` // trigger, acknowledge, resolve
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"` // trigger only
	Client      string   `json:"client,omitempty"`
}

// Payload is the alert of a trigger event.
type Payload struct {
	Summary       string    `json:"summary"`
	Source        string    `json:"source"`
	Severity      string    `json:"severity"`
	Timestamp     time.Time `json:"timestamp"`
	Component     string    `json:"component,omitempty"`
	Group         string    `json:"group,omitempty"`
	Class         string    `json:"class,omitempty"`
	CustomDetails *Details  `json:"custom_details,omitempty"`
}

// Details are the custom details of a trigger: the incident's record.
type Details struct {
	Incident  string                 `json:"incident"`
	State     string                 `json:"state"`
	Level     int                    `json:"level"`
	Reason    string                 `json:"reason,omitempty"`
	Nodes     []string               `json:"nodes,omitempty"`
	Kinds     []string               `json:"kinds,omitempty"`
	Impact    events.Impact          `json:"impact"`
	Timeline  []events.TimelineEntry `json:"timeline,omitempty"`
	Truncated bool                   `json:"truncated,omitempty"`
}

// Response is PagerDuty's answer.
type Response struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

// ErrBadResponse is returned when a 2xx answer does not say success.
var ErrBadResponse = errors.New("pagerduty: unexpected response")

// Sender posts events with one routing key.
type Sender struct {
	url, routingKey string
	client          *http.Client
}

// New returns a sender; url "" means DefaultURL.
func New(url, routingKey string, client *http.Client) *Sender {
	if url == "" {
		url = DefaultURL
	}
	return &Sender{url: url, routingKey: routingKey, client: client}
}

// Severity maps SEV1..SEV4 to PagerDuty's severities.
func Severity(sev string) string {
	switch sev {
	case "SEV1":
		return "critical"
	case "SEV2":
		return "error"
	case "SEV3":
		return "warning"
	}
	return "info"
}

// Build renders a message as an event, or nil when the action has no
// PagerDuty meaning (a summary of an incident that never paged).
func Build(routingKey string, m sink.Message) (*Event, error) {
	ev := &Event{RoutingKey: routingKey, DedupKey: m.Incident.Key, Client: "wsheal"}
	switch m.Action {
	case sink.ActionTrigger, sink.ActionEscalate, sink.ActionRepeat:
		ev.EventAction = "trigger"
		ev.Payload = payload(m)
	case sink.ActionAcknowledge:
		ev.EventAction = "acknowledge"
	case sink.ActionResolve:
		ev.EventAction = "resolve"
	default:
		return nil, nil
	}
	if ev.DedupKey == "" {
		return nil, fmt.Errorf("%w: incident %s has no dedup key", sink.ErrBadMessage, m.Incident.ID)
	}
	return ev, nil
}

func payload(m sink.Message) *Payload {
	inc := m.Incident
	summary := sink.Title(m)
	if len(summary) > maxSummary {
		summary = summary[:maxSummary]
	}
	return &Payload{
		Summary:   summary,
		Source:    "wsheal",
		Severity:  Severity(inc.Severity),
		Timestamp: inc.OpenedAt,
		Component: firstOr(inc.Nodes, "fleet"),
		Group:     "wsheal",
		Class:     firstOr(inc.Kinds, "incident"),
		CustomDetails: &Details{
			Incident: inc.ID, State: inc.State, Level: m.Level, Reason: m.Reason,
			Nodes: inc.Nodes, Kinds: inc.Kinds, Impact: inc.Impact, Timeline: inc.Timeline,
		},
	}
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// Encode marshals ev, dropping the timeline from the details (oldest
// entries first) until the body is under MaxPayload.
func Encode(ev *Event) ([]byte, error) {
	for {
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("pagerduty: encode: %w", err)
		}
		if len(body) < MaxPayload {
			return body, nil
		}
		if ev.Payload == nil || ev.Payload.CustomDetails == nil {
			return nil, fmt.Errorf("pagerduty: event of %d bytes, at most %d", len(body), MaxPayload)
		}
		d := ev.Payload.CustomDetails
		d.Truncated = true
		if len(d.Timeline) == 0 {
			ev.Payload.CustomDetails = nil
			continue
		}
		d.Timeline = d.Timeline[len(d.Timeline)/2+len(d.Timeline)%2:]
	}
}

// Notify implements sink.Sender. PagerDuty answers 202 with status
// "success", 400 for an invalid event, 429 when throttled, 5xx when down.
func (s *Sender) Notify(ctx context.Context, m sink.Message) (bool, error) {
	ev, err := Build(s.routingKey, m)
	if err != nil || ev == nil {
		return false, err
	}
	body, err := Encode(ev)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("pagerduty: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("pagerduty: post: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if retry, err := sink.ClassifyStatus(resp.StatusCode, resp.Header, raw); err != nil {
		return retry, fmt.Errorf("pagerduty: %w", err)
	}
	if _, err := DecodeResponse(raw); err != nil {
		return false, err
	}
	return false, nil
}

// DecodeResponse parses a 2xx answer and checks it says success.
func DecodeResponse(raw []byte) (Response, error) {
	var r Response
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if r.Status != "success" {
		return r, fmt.Errorf("%w: status %q: %s", ErrBadResponse, r.Status, r.Message)
	}
	return r, nil
}
