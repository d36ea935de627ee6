package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/auth"
)

// TestHostileIdleKeepAlive: 100 HTTP keep-alive sockets left idle are
// closed by the gateway's idle timeout and stop counting as sockets.
func TestHostileIdleKeepAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	g := startGateway(t, ns, "WSHEAL_GATEWAY_HTTP_IDLE_TIMEOUT=1s", "WSHEAL_GATEWAY_SOCKETS_PER_IP=200")
	var socks []*bufio.Reader
	for i := range 100 {
		c := dialFrom(t, "127.0.0.2", g.addr)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("socket %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		socks = append(socks, br)
	}
	if n := g.metric(t, "wsheal_gateway_sockets"); n < 100 {
		t.Fatalf("sockets = %v with 100 keep-alives open", n)
	}
	for i, br := range socks {
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("socket %d: not closed by the idle timeout: %v", i, err)
		}
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return g.metric(t, "wsheal_gateway_sockets") <= 1 },
		"idle sockets still counted")
}

// TestHostileSocketFlood: 400 silent sockets from one address, past the
// per-address socket cap (50) and the node's (200), neither hang /healthz
// nor keep a valid client out; the silent ones that got in are closed by
// the read-header timeout.
func TestHostileSocketFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	g := startGateway(t, ns, "WSHEAL_GATEWAY_MAX_SOCKETS=200", "WSHEAL_GATEWAY_SOCKETS_PER_IP=50",
		"WSHEAL_GATEWAY_HANDSHAKE_TIMEOUT=2s")
	var flood []net.Conn
	for range 400 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 3 * time.Second}
		if c, err := d.Dial("tcp", g.addr); err == nil {
			flood = append(flood, c)
			defer c.Close()
		}
	}
	start := time.Now()
	if code := g.get("/healthz", "127.0.0.1"); code != http.StatusOK {
		t.Fatalf("/healthz during the flood: %d", code)
	}
	t.Logf("/healthz answered in %v during a flood of %d silent sockets", time.Since(start), len(flood))
	ws, status, err := dialWS("127.0.0.1", g.addr, token(t), nil)
	if err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("valid client during the flood: status %d err %v", status, err)
	}
	defer ws.c.Close()
	if refused := g.metric(t, "wsheal_gateway_sockets_refused_total"); refused < 300 {
		t.Fatalf("sockets refused at accept: %v, want at least 300 of 400", refused)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return g.metric(t, "wsheal_gateway_sockets") <= 3 },
		"silent sockets not closed by the read-header timeout")
}

// TestHostileOriginsTokensMetrics: a foreign browser origin gets 403, a
// token without exp is refused, /metrics needs its token and /healthz
// stays open.
func TestHostileOriginsTokensMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	g := startGateway(t, ns, "WSHEAL_GATEWAY_ALLOWED_ORIGINS=https://app.example.com",
		"WSHEAL_GATEWAY_METRICS_TOKEN=metrics-secret-token", "WSHEAL_GATEWAY_JWT_AUDIENCE=wsheal")
	origin := func(o string) http.Header { return http.Header{"Origin": {o}} }
	cases := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"foreign origin", origin("https://evil.example"), http.StatusForbidden},
		{"allowed origin", origin("https://app.example.com"), http.StatusSwitchingProtocols},
		{"no origin (not a browser)", nil, http.StatusSwitchingProtocols},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws, status, err := dialWS("127.0.0.1", g.addr, tokenFor(t, "wsheal", true), tc.header)
			if err != nil || status != tc.want {
				t.Fatalf("status %d err %v, want %d", status, err, tc.want)
			}
			if ws != nil {
				ws.c.Close()
			}
		})
	}
	for _, tc := range []struct {
		name, tok string
	}{{"no exp", tokenFor(t, "wsheal", false)}, {"wrong audience", tokenFor(t, "other", true)}} {
		t.Run(tc.name, func(t *testing.T) {
			ws, status, err := dialWS("127.0.0.1", g.addr, tc.tok, nil)
			if err != nil || status != http.StatusSwitchingProtocols {
				t.Fatalf("status %d err %v", status, err)
			}
			defer ws.c.Close()
			if code := ws.closeCode(5 * time.Second); code != frame.CloseUnauthorized {
				t.Fatalf("close code %d, want %d", code, frame.CloseUnauthorized)
			}
		})
	}
	if code := g.get("/metrics", "127.0.0.1"); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without its token: %d", code)
	}
	req, _ := http.NewRequest("GET", "http://"+g.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-secret-token")
	resp, err := httpFrom("127.0.0.1").Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics with its token: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, p := range []string{"/healthz", "/readyz"} {
		if code := g.get(p, "127.0.0.1"); code != http.StatusOK {
			t.Fatalf("%s: %d", p, code)
		}
	}
}

func tokenFor(t *testing.T, aud string, exp bool) string {
	t.Helper()
	c := auth.Claims{Subs: []string{"*"}}
	c.Audience = jwt.ClaimStrings{aud}
	if exp {
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	}
	s, err := auth.Sign(hostileSecret, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 3 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(fmt.Errorf("dial from %s: %w", from, err))
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
