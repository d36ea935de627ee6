package service

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

func TestOpsEndpoints(t *testing.T) {
	var ready atomic.Bool
	ops := Ops{
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "up 1\n") }),
		Token:   "metrics-token",
		Health:  func() (bool, string) { return true, "ok" },
		Ready: func() (bool, string) {
			if !ready.Load() {
				return false, "NATS disconnected"
			}
			return true, "ok"
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := ListenHTTP(ctx, "127.0.0.1:0", "TEST_LISTEN", HTTP{}, ops.Handler(zerolog.Nop()), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		path, token string
		code        int
		body        string
	}{
		{"/metrics", "", http.StatusUnauthorized, "unauthorized"},
		{"/metrics", "metrics-token", http.StatusOK, "up 1"},
		{"/healthz", "", http.StatusOK, `"ok":true`},
		{"/readyz", "", http.StatusServiceUnavailable, "NATS disconnected"},
		{"/nothing", "", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		code, body := get(c.path, c.token)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d with %q", c.path, code, body, c.code, c.body)
		}
	}
	ready.Store(true)
	if code, _ := get("/readyz", ""); code != http.StatusOK {
		t.Errorf("readyz once ready: %d", code)
	}
}

func TestListenHTTPOffAndBad(t *testing.T) {
	addr, err := ListenHTTP(context.Background(), ListenOff, "X_LISTEN", HTTP{}, http.NotFoundHandler(), zerolog.Nop())
	if addr != "" || err != nil {
		t.Fatalf("off: %q %v", addr, err)
	}
	if err := ValidateListen("X_LISTEN", "nonsense"); err == nil || !strings.Contains(err.Error(), "X_LISTEN") {
		t.Fatalf("bad address: %v", err)
	}
	if err := ValidateListen("X_LISTEN", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
}

func TestParseSeries(t *testing.T) {
	text := `# HELP x_total X.
# TYPE x_total counter
x_total{a="1",b="two words"} 3
x_total{a="}"} 4 1700000000000
up 1
bad{a="1"} notanumber
`
	s, err := ParseSeries(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := Series{`x_total{a="1",b="two words"}`: 3, `x_total{a="}"}`: 4, "up": 1}
	if len(s) != len(want) {
		t.Fatalf("series %v", s)
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, s[k], v, s)
		}
	}
}

func FuzzParseSeries(f *testing.F) {
	f.Add("x_total{a=\"1\"} 3\nup 1 17\n# c\n")
	f.Add("}{ 1\n{\n 2")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSeries(strings.NewReader(text))
		if err == nil && len(s) > strings.Count(text, "\n")+1 {
			t.Fatalf("%d series from %d lines", len(s), strings.Count(text, "\n")+1)
		}
	})
}
