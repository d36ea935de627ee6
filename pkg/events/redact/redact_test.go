package redact_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/redact"
)

const slackURL = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghij0123456789wxyz"

func TestString(t *testing.T) {
	redact.Register("pwTopSecret42", "http://127.0.0.1:9/hook/s3cr3tpath")
	cases := []struct{ in, gone, kept string }{
		{`Post "` + slackURL + `": dial tcp: i/o timeout`, "abcdefghij0123456789wxyz", "hooks.slack.com"},
		{"nats://gateway:pwTopSecret42@nats-1:4222", "pwTopSecret42", "nats-1:4222"},
		{"nats://alice:hunter2@nats-1:4222", "hunter2", "nats-1:4222"},
		{"wss://gw-1.example/ws?token=eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGci", "gw-1.example/ws"},
		{"Authorization: Bearer abcdef0123456789", "abcdef0123456789", "Authorization"},
		{`{"routing_key":"R0123456789","level":"warn"}`, "R0123456789", `"level":"warn"`},
		{"webhook_secret=whsec0123 rest", "whsec0123", "rest"},
		{`Post "http://127.0.0.1:9/hook/s3cr3tpath": EOF`, "s3cr3tpath", "Post"},
		{"ws://127.0.0.1:8081/ws and http://gw-1:8080/healthz", "", "ws://127.0.0.1:8081/ws and http://gw-1:8080/healthz"},
		{"accept-rate token bucket exhausted", "", "accept-rate token bucket exhausted"},
	}
	for _, tc := range cases {
		got := redact.String(tc.in)
		if tc.gone != "" && strings.Contains(got, tc.gone) {
			t.Errorf("%q -> %q still holds %q", tc.in, got, tc.gone)
		}
		if !strings.Contains(got, tc.kept) {
			t.Errorf("%q -> %q lost %q", tc.in, got, tc.kept)
		}
	}
}

func TestErrorKeepsChain(t *testing.T) {
	base := errors.New("sink down")
	err := redact.Error(fmt.Errorf("post %s: %w", slackURL, base))
	if !errors.Is(err, base) || strings.Contains(err.Error(), "0123456789wxyz") {
		t.Fatalf("%v", err)
	}
	if redact.Error(nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

// TestRealTransportError: the text of a real net/http failure against a
// webhook URL holds the URL; redacted, it holds no secret part.
func TestRealTransportError(t *testing.T) {
	secretURL := "http://127.0.0.1:1/services/T1/B2/zz0123456789abcdefgh"
	c := &http.Client{Timeout: time.Second}
	_, err := c.Post(secretURL, "application/json", bytes.NewReader([]byte(`{}`)))
	if err == nil || !strings.Contains(err.Error(), "zz0123456789abcdefgh") {
		t.Fatalf("want a transport error naming the URL, got %v", err)
	}
	if got := redact.Error(err).Error(); strings.Contains(got, "zz0123456789abcdefgh") {
		t.Fatalf("redacted error leaks: %s", got)
	}
}

func TestWriterKeepsJSON(t *testing.T) {
	var buf bytes.Buffer
	w := redact.Writer(&buf)
	line := `{"level":"warn","error":"Post \"` + slackURL + `\": timeout","password":"x1y2z3w4"}` + "\n"
	n, err := w.Write([]byte(line))
	if err != nil || n != len(line) {
		t.Fatalf("write: %d %v", n, err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("redacted line is not JSON: %v: %s", err, buf.String())
	}
	if strings.Contains(buf.String(), "0123456789wxyz") || strings.Contains(buf.String(), "x1y2z3w4") {
		t.Fatalf("leak: %s", buf.String())
	}
}

func FuzzString(f *testing.F) {
	redact.Register("fuzzSecret99")
	f.Add(slackURL)
	f.Add(`{"token":"abc"}`)
	f.Add("x fuzzSecret99 y")
	f.Fuzz(func(t *testing.T, s string) {
		got := redact.String(s)
		if strings.Contains(got, "fuzzSecret99") {
			t.Fatalf("%q -> %q", s, got)
		}
		if json.Valid([]byte(s)) && !json.Valid([]byte(got)) {
			t.Fatalf("broke JSON: %q -> %q", s, got)
		}
	})
}
