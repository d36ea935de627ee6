// Package sink holds what every receiver shares: the message the outbox
// carries, the Sender interface in Alertmanager's style (retryable, err),
// and the classification of an HTTP answer. Each receiver is its own
// subpackage (webhook, slack, pagerduty, alertmanager, amwebhook).
package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Sink names, used in config, outbox subjects and notification events.
const (
	Webhook      = "webhook"
	Slack        = "slack"
	PagerDuty    = "pagerduty"
	Alertmanager = "alertmanager" // an Alertmanager, through its API v2
	// AlertmanagerWebhook posts the payload Alertmanager sends its webhook
	// receivers (version 4) to such a receiver.
	AlertmanagerWebhook = "alertmanager-webhook"
)

// Names lists every sink.
var Names = []string{Webhook, Slack, PagerDuty, Alertmanager, AlertmanagerWebhook}

// Notification actions.
const (
	ActionTrigger     = "trigger"
	ActionEscalate    = "escalate"
	ActionRepeat      = "repeat"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
	ActionSummary     = "summary"
)

// Message is one notification to one sink, as kept in the durable outbox.
// Its ID is deterministic (incident, change sequence, sink), so the outbox
// and the sent-ids record de-duplicate it.
type Message struct {
	ID       string          `json:"id"`
	Sink     string          `json:"sink"`
	Action   string          `json:"action"`
	Level    int             `json:"level,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	Incident events.Incident `json:"incident"`
	// Review is the Markdown review, carried by summaries.
	Review string    `json:"review,omitempty"`
	At     time.Time `json:"at"`
}

// ErrBadMessage is returned by DecodeMessage.
var ErrBadMessage = errors.New("sink: bad outbox message")

// MaxMessageSize bounds an outbox message.
const MaxMessageSize = 1 << 20

// DecodeMessage parses an outbox message read from the network.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageSize {
		return m, fmt.Errorf("%w: %d bytes", ErrBadMessage, len(b))
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	switch {
	case m.ID == "":
		return m, fmt.Errorf("%w: no id", ErrBadMessage)
	case events.ValidateToken(m.Sink) != nil:
		return m, fmt.Errorf("%w: sink %q", ErrBadMessage, m.Sink)
	case m.Action == "":
		return m, fmt.Errorf("%w: no action", ErrBadMessage)
	case m.Incident.ID == "":
		return m, fmt.Errorf("%w: no incident", ErrBadMessage)
	}
	return m, nil
}

// Sender delivers a message to one receiver. It reports whether a failure
// is worth retrying, as Alertmanager's notifiers do.
type Sender interface {
	Notify(ctx context.Context, m Message) (retryable bool, err error)
}

// Errors of HTTP receivers.
var (
	ErrRejected  = errors.New("sink: rejected")     // a 4xx other than 429: do not retry
	ErrThrottled = errors.New("sink: throttled")    // 429
	ErrServer    = errors.New("sink: server error") // 5xx
)

// RetryAfterError is a retryable failure whose receiver said when to come back.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// ParseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. It returns 0 for absent or unreadable values, and caps at limit.
func ParseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(limit/time.Second) {
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}

// MaxRetryAfter caps any Retry-After a receiver asks for.
const MaxRetryAfter = 5 * time.Minute

// Classify turns an HTTP answer into Alertmanager's (retryable, err):
// 2xx is success; 429 and 5xx are retryable (429 with its Retry-After);
// any other status is a permanent rejection. The body is read (bounded)
// into the error so a person sees why.
func Classify(resp *http.Response) (bool, error) {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return ClassifyStatus(resp.StatusCode, resp.Header, body)
}

// ClassifyStatus is Classify on an answer already read.
func ClassifyStatus(code int, header http.Header, body []byte) (bool, error) {
	if code >= 200 && code < 300 {
		return false, nil
	}
	msg := fmt.Sprintf("HTTP %d: %s", code, strings.TrimSpace(string(body)))
	switch {
	case code == http.StatusTooManyRequests:
		err := fmt.Errorf("%w: %s", ErrThrottled, msg)
		if after := ParseRetryAfter(header.Get("Retry-After"), time.Now(), MaxRetryAfter); after > 0 {
			return true, &RetryAfterError{After: after, Err: err}
		}
		return true, err
	case code >= 500:
		return true, fmt.Errorf("%w: %s", ErrServer, msg)
	}
	return false, fmt.Errorf("%w: %s", ErrRejected, msg)
}

// Post sends body to url with the headers and classifies the answer. A
// transport error (refused, timeout) is retryable.
func Post(ctx context.Context, client *http.Client, url string, body []byte, header http.Header) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("sink: request: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("sink: post: %w", err)
	}
	defer resp.Body.Close()
	return Classify(resp)
}

// Title is the one-line text of a message, shared by the chat sinks.
func Title(m Message) string {
	inc := m.Incident
	head := fmt.Sprintf("[%s] %s %s", inc.Severity, strings.ToUpper(m.Action), inc.Title)
	switch m.Action {
	case ActionEscalate:
		head += fmt.Sprintf(" (level %d)", m.Level)
	case ActionTrigger, ActionRepeat:
		if m.Reason != "" {
			head += " — " + m.Reason
		}
	}
	return head + " (" + inc.ID + ")"
}
