package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/executor/webhook"
)

func TestPostCarriesAnomalyAndIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var got webhook.Call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		key := r.Header.Get(webhook.IdempotencyHeader)
		seen[key]++
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/no":
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	c := webhook.New(5 * time.Second)
	call := webhook.Call{ID: "a1.webhook.1", Action: events.ActionWebhook, Attempt: 1, Target: "n1",
		Anomaly: &events.Anomaly{ID: "a1", Kind: events.KindErrorRate, Target: "n1"}}
	cases := []struct {
		path string
		want error
	}{{"/ok", nil}, {"/busy", webhook.ErrRetryable}, {"/no", webhook.ErrRejected}}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			err := c.Post(context.Background(), srv.URL+tc.path, call)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Post = %v, want %v", err, tc.want)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if seen[call.ID] != 3 || got.Anomaly == nil || got.Anomaly.ID != "a1" {
		t.Fatalf("the receiver saw keys %v and body %+v", seen, got)
	}
}

func TestPostToNowhereIsRetryable(t *testing.T) {
	c := webhook.New(time.Second)
	err := c.Post(context.Background(), "http://127.0.0.1:1/none", webhook.Call{ID: "x"})
	if !errors.Is(err, webhook.ErrRetryable) {
		t.Fatalf("want retryable, got %v", err)
	}
}
