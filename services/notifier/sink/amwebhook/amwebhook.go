// Package amwebhook posts the payload Alertmanager sends to its webhook
// receivers (version "4"), so a receiver written for Alertmanager reads
// wsheal incidents as they are; it does not talk to an Alertmanager (the
// alertmanager sink does, through its API v2). One incident is one alert
// group with one alert; its fingerprint and groupKey derive from the
// incident's dedup key.
package amwebhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Version is the payload version Alertmanager's webhook sends.
const Version = "4"

// Payload is Alertmanager's webhook message.
type Payload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // firing or resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of the payload.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Sender posts to one URL.
type Sender struct {
	url, receiver, externalURL string
	client                     *http.Client
}

// New returns a sender; receiver names the receiver in the payload.
func New(url, receiver, externalURL string, client *http.Client) *Sender {
	return &Sender{url: url, receiver: receiver, externalURL: externalURL, client: client}
}

// Notify implements sink.Sender.
func (s *Sender) Notify(ctx context.Context, m sink.Message) (bool, error) {
	body, err := json.Marshal(Build(m, s.receiver, s.externalURL))
	if err != nil {
		return false, fmt.Errorf("amwebhook: encode: %w", err)
	}
	return sink.Post(ctx, s.client, s.url, body, nil)
}

// Build renders a message: resolve and summary are "resolved", every
// other action "firing" (an acknowledgement is an annotation).
func Build(m sink.Message, receiver, externalURL string) Payload {
	inc := m.Incident
	status := "firing"
	endsAt := time.Time{}
	if m.Action == sink.ActionResolve || m.Action == sink.ActionSummary {
		status = "resolved"
		endsAt = inc.ResolvedAt
	}
	labels := map[string]string{
		"alertname": "WshealIncident",
		"incident":  inc.ID,
		"severity":  strings.ToLower(inc.Severity),
		"kinds":     strings.Join(inc.Kinds, ","),
	}
	group := map[string]string{"incident": inc.ID}
	ann := map[string]string{
		"summary":   inc.Title,
		"state":     inc.State,
		"action":    m.Action,
		"nodes":     strings.Join(inc.Nodes, ","),
		"dedup_key": inc.Key,
	}
	if !inc.AckedAt.IsZero() {
		ann["acknowledged"] = "true"
	}
	if m.Review != "" {
		ann["description"] = m.Review
	}
	start := inc.ImpactStart
	if start.IsZero() {
		start = inc.OpenedAt
	}
	return Payload{
		Version: Version, GroupKey: "{}:{incident=\"" + inc.ID + "\"}", Status: status, Receiver: receiver,
		GroupLabels: group, CommonLabels: labels, CommonAnnotations: ann, ExternalURL: externalURL,
		Alerts: []Alert{{Status: status, Labels: labels, Annotations: ann, StartsAt: start, EndsAt: endsAt,
			Fingerprint: fingerprint(inc.Key)}},
	}
}

func fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}
