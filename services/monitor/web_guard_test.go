package monitor_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestHTTPGuarded: with tokens set, /metrics and the API need theirs,
// /healthz stays open, and an idle keep-alive socket is closed by the
// idle timeout.
func TestHTTPGuarded(t *testing.T) {
	srv := natstest.Start(t)
	cfg := testConfig(t, srv, "m-guard")
	cfg.MetricsToken, cfg.DashboardToken = "metrics-token-1", "dashboard-token-1"
	cfg.HTTP.IdleTimeout = 300 * time.Millisecond
	m := startMonitor(t, cfg)
	base := "http://" + m.Addr()
	cases := []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", http.StatusOK},
		{"/readyz", "", http.StatusOK},
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "dashboard-token-1", http.StatusUnauthorized},
		{"/metrics", "metrics-token-1", http.StatusOK},
		{"/sd/gateways", "dashboard-token-1", http.StatusUnauthorized},
		{"/sd/gateways", "metrics-token-1", http.StatusOK},
		{"/api/fleet", "", http.StatusUnauthorized},
		{"/api/fleet", "dashboard-token-1", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.path+" "+tc.token, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	t.Run("idle keep-alive closed", func(t *testing.T) {
		c, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err != io.EOF && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("idle socket not closed by the server: %v", err)
		}
	})
}
