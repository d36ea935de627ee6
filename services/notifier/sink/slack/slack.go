// Package slack is the Slack incoming-webhook sink: a text message with
// one attachment coloured by severity.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Body is an incoming-webhook message.
type Body struct {
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a legacy Slack attachment (colour bar and fields).
type Attachment struct {
	Color  string  `json:"color"`
	Text   string  `json:"text,omitempty"`
	Fields []Field `json:"fields,omitempty"`
}

// Field is a short key/value in an attachment.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// maxText keeps a message under Slack's limits.
const maxText = 3000

// Sender posts to one incoming-webhook URL.
type Sender struct {
	url    string
	client *http.Client
}

// New returns a sender.
func New(url string, client *http.Client) *Sender { return &Sender{url: url, client: client} }

// Notify implements sink.Sender. Slack answers 200 "ok", 429 with
// Retry-After when rate limited, 400/403/404 for a bad payload or a
// revoked URL, 5xx when it is down.
func (s *Sender) Notify(ctx context.Context, m sink.Message) (bool, error) {
	body, err := json.Marshal(Build(m))
	if err != nil {
		return false, fmt.Errorf("slack: encode: %w", err)
	}
	return sink.Post(ctx, s.client, s.url, body, nil)
}

// Build renders a message.
func Build(m sink.Message) Body {
	inc := m.Incident
	text := m.Review
	if text == "" {
		text = strings.Join(inc.Kinds, ", ")
	}
	if len(text) > maxText {
		text = text[:maxText] + "…"
	}
	return Body{
		Text: sink.Title(m),
		Attachments: []Attachment{{
			Color: color(inc.Severity, m.Action),
			Text:  text,
			Fields: []Field{
				{Title: "State", Value: inc.State, Short: true},
				{Title: "Nodes", Value: strings.Join(inc.Nodes, ", "), Short: true},
				{Title: "Connections", Value: fmt.Sprint(inc.Impact.Connections), Short: true},
				{Title: "Dedup key", Value: inc.Key, Short: true},
			},
		}},
	}
}

func color(sev, action string) string {
	if action == sink.ActionResolve || action == sink.ActionSummary {
		return "good"
	}
	switch sev {
	case "SEV1", "SEV2":
		return "danger"
	case "SEV3":
		return "warning"
	}
	return "#439FE0"
}
