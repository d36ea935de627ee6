package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

func TestNotifyAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      int
		body      string
		retryable bool
		err       error
	}{
		{"ok", 200, "ok", false, nil},
		{"rate limited", 429, "rate_limited", true, sink.ErrThrottled},
		{"server error", 500, "", true, sink.ErrServer},
		{"invalid payload", 400, "invalid_payload", false, sink.ErrRejected},
		{"revoked", 404, "no_service", false, sink.ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Body
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				raw, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(raw, &got)
				if tc.code == 429 {
					w.Header().Set("Retry-After", "1")
				}
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			m := sink.Message{Action: sink.ActionTrigger, Incident: events.Incident{ID: "inc-9", Severity: "SEV1", Title: "down"}}
			retry, err := New(srv.URL, srv.Client()).Notify(context.Background(), m)
			if retry != tc.retryable || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Notify = %v, %v", retry, err)
			}
			if !strings.Contains(got.Text, "inc-9") || len(got.Attachments) != 1 || got.Attachments[0].Color != "danger" {
				t.Fatalf("body %+v", got)
			}
		})
	}
}

func TestLongReviewTruncated(t *testing.T) {
	b := Build(sink.Message{Action: sink.ActionSummary, Review: strings.Repeat("r", 10*maxText)})
	if n := len(b.Attachments[0].Text); n > maxText+4 || b.Attachments[0].Color != "good" {
		t.Fatalf("text %d bytes, colour %s", n, b.Attachments[0].Color)
	}
}
