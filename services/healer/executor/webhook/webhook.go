// Package webhook calls a runbook webhook: a POST of the anomaly and the
// action as JSON with an Idempotency-Key header, so that a receiver seeing
// the same key twice (a retry, or a replica taking over) runs it once.
package webhook

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
)

// Errors of the webhook executor.
var (
	ErrWebhook   = errors.New("webhook: call")
	ErrRejected  = errors.New("webhook: rejected") // 4xx: retrying will not help
	ErrRetryable = errors.New("webhook: retryable")
)

// IdempotencyHeader carries the command id.
const IdempotencyHeader = "Idempotency-Key"

// Call is the body posted to the runbook.
type Call struct {
	ID      string          `json:"id"` // also the Idempotency-Key
	Action  string          `json:"action"`
	Attempt int             `json:"attempt"`
	Target  string          `json:"target"`
	Anomaly *events.Anomaly `json:"anomaly"`
	SentAt  time.Time       `json:"sent_at"`
}

// Client posts runbook calls.
type Client struct {
	http *http.Client
}

// New returns a client with a per-call timeout.
func New(timeout time.Duration) *Client {
	return &Client{http: &http.Client{Timeout: timeout}}
}

// Post sends c to url. A 2xx is success; 408, 429 and 5xx wrap
// ErrRetryable; other statuses wrap ErrRejected.
func (cl *Client) Post(ctx context.Context, url string, c Call) error {
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("%w: encode: %w", ErrWebhook, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWebhook, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IdempotencyHeader, c.ID)
	req.Header.Set("User-Agent", "wsheal-healer/"+events.Version)
	resp, err := cl.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w: %w", ErrWebhook, ErrRetryable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return fmt.Errorf("%w: %w: %s: %s", ErrWebhook, ErrRetryable, resp.Status, snippet)
	default:
		return fmt.Errorf("%w: %w: %s: %s", ErrWebhook, ErrRejected, resp.Status, snippet)
	}
}
