package outbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/notifier/pipeline"
	"github.com/wsheal/wsheal/services/notifier/sink"
	"github.com/wsheal/wsheal/services/notifier/sink/slack"
)

func msg(id string) sink.Message {
	return sink.Message{ID: id, Sink: sink.Slack, Action: sink.ActionTrigger, Incident: events.Incident{ID: "inc-1", Key: "k"}}
}

// The outbox stores a message once per id and the worker delivers each
// one, reporting the outcome; a rejected message is reported failed and
// not retried.
func TestWorkerDeliversOnce(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.ContentLength > 0 && hits.Load() == 2 {
			w.WriteHeader(http.StatusBadRequest) // the second message is refused
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer rcv.Close()
	ob := New(js)
	for _, id := range []string{"a", "a", "b"} {
		if err := ob.Enqueue(t.Context(), msg(id)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	outcomes := map[string]string{}
	pipe := &pipeline.Pipeline{Sender: slack.New(rcv.URL, rcv.Client()), Retry: pipeline.Retry{Attempts: 3, Initial: time.Millisecond}}
	w := NewWorker(js, sink.Slack, pipe, func(_ context.Context, m sink.Message, n events.Notification) {
		mu.Lock()
		outcomes[m.ID] = n.Status
		mu.Unlock()
	}, zerolog.Nop())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	natstest.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(outcomes) == 2
	}, "two outcomes")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if outcomes["a"] != "sent" || outcomes["b"] != "failed" || hits.Load() != 2 {
		t.Fatalf("outcomes %v after %d requests", outcomes, hits.Load())
	}
}
