package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

func TestSignatureVerifiable(t *testing.T) {
	secret := []byte("s3cret")
	got := make(chan error, 1)
	var body Body
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		err := Verify(secret, r.Header.Get(SignatureHeader), raw, time.Now(), time.Minute)
		if err == nil {
			err = json.Unmarshal(raw, &body)
		}
		got <- err
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	m := sink.Message{ID: "m1", Sink: sink.Webhook, Action: sink.ActionTrigger, Incident: events.Incident{ID: "inc-1", Key: "k"}}
	if _, err := New(srv.URL, string(secret), srv.Client()).Notify(context.Background(), m); err != nil {
		t.Fatalf("notify: %v", err)
	}
	if err := <-got; err != nil {
		t.Fatalf("receiver: %v", err)
	}
	if body.Version != Version || body.Message.Incident.ID != "inc-1" {
		t.Fatalf("body %+v", body)
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("k")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	good := Sign(secret, now, body)
	for _, tc := range []struct {
		name, header string
		body         []byte
		secret       []byte
		at           time.Time
		want         error
	}{
		{"good", good, body, secret, now, nil},
		{"tampered body", good, []byte(`{"a":2}`), secret, now, ErrBadSignature},
		{"wrong secret", good, body, []byte("x"), now, ErrBadSignature},
		{"replayed later", good, body, secret, now.Add(10 * time.Minute), ErrStale},
		{"no header", "", body, secret, now, ErrBadSignature},
		{"garbage", "t=abc,v1=", body, secret, now, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, tc.body, tc.at, 5*time.Minute)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("t=1700000000,v1=00", []byte("{}"))
	f.Add("", []byte(nil))
	f.Add("v1=,t=,,=", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		now := time.Unix(1_700_000_000, 0)
		if Verify([]byte("k"), header, body, now, time.Hour) == nil && header != Sign([]byte("k"), now, body) {
			// A different header may verify only if it carries the same MAC.
			if Verify([]byte("other"), header, body, now, time.Hour) == nil {
				t.Fatalf("header %q verifies under two secrets", header)
			}
		}
	})
}
