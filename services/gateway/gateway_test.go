package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/auth"
)

func TestRoundTrip(t *testing.T) {
	ns := natstest.Start(t)
	s := startNode(t, testConfig(ns, "gw-rt"))
	c := dial(t, s.URL())
	if c.hello.Node != "gw-rt" || c.hello.Session == "" || c.hello.Version != 1 || c.hello.PingIntervalMS != 1000 {
		t.Fatalf("hello = %+v", c.hello)
	}
	sub := c.reply(c.send(frame.Client{Op: frame.OpSubscribe, Channel: "news"}), nil)
	if sub.Op != frame.OpReply || sub.Recovered != nil {
		t.Fatalf("subscribe reply = %+v", sub)
	}
	var msgs []frame.Server
	pub := c.reply(c.send(frame.Client{Op: frame.OpPublish, Channel: "news", Data: json.RawMessage(`{"hi":1}`), Idem: "p1"}), &msgs)
	if pub.Op != frame.OpReply || pub.Seq == 0 || pub.Duplicate {
		t.Fatalf("publish reply = %+v", pub)
	}
	again := c.reply(c.send(frame.Client{Op: frame.OpPublish, Channel: "news", Data: json.RawMessage(`{"hi":1}`), Idem: "p1"}), &msgs)
	if !again.Duplicate || again.Seq != pub.Seq {
		t.Fatalf("retried publish = %+v, want duplicate of seq %d", again, pub.Seq)
	}
	for len(msgs) == 0 {
		msgs = append(msgs, c.expect(frame.OpMessage))
	}
	if m := msgs[0]; m.Channel != "news" || m.Seq != pub.Seq || string(m.Data) != `{"hi":1}` {
		t.Fatalf("msg = %+v", m)
	}
	un := c.reply(c.send(frame.Client{Op: frame.OpUnsubscribe, Channel: "news"}), nil)
	if un.Op != frame.OpReply {
		t.Fatalf("unsubscribe = %+v", un)
	}
	c.send(frame.Client{Op: frame.OpPing, ID: 77})
	if p := c.expect(frame.OpPong); p.ID != 77 {
		t.Fatalf("pong = %+v", p)
	}
}

func TestBadFramesKeepServing(t *testing.T) {
	ns := natstest.Start(t)
	s := startNode(t, testConfig(ns, "gw-bad"))
	c := dial(t, s.URL())
	cases := []struct {
		name, in, code string
	}{
		{"not json", `{{`, frame.CodeBadFrame},
		{"unknown op", `{"op":"dance","id":1,"channel":"a"}`, frame.CodeUnknownOp},
		{"unknown field", `{"op":"subscribe","id":2,"channel":"a","x":1}`, frame.CodeBadFrame},
		{"bad channel", `{"op":"subscribe","id":3,"channel":"a.b"}`, frame.CodeBadFrame},
		{"not subscribed", `{"op":"unsubscribe","id":4,"channel":"zzz"}`, frame.CodeNotSubscribed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.ws.WriteString(tc.in); err != nil {
				t.Fatal(err)
			}
			f := c.expect(frame.OpError)
			if f.Code != tc.code {
				t.Fatalf("error = %+v, want code %s", f, tc.code)
			}
		})
	}
	c.send(frame.Client{Op: frame.OpPing, ID: 9})
	c.expect(frame.OpPong)
}

func TestStalePeerClosed(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-stale")
	// A deadline the healthy peer meets even on a loaded host (its reader
	// may wait a second for the CPU); the dead peer never answers.
	cfg.PingInterval, cfg.PongDeadline = 200*time.Millisecond, 2*time.Second
	s := startNode(t, cfg)
	good := dial(t, s.URL())
	dead, _, err := tryDial(t, s.URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	// How fast is a benchmark's business; here: closed as stale, and only
	// the peer that never answers.
	if code := dead.waitClosed(30 * time.Second); code != frame.CloseStale {
		t.Fatalf("close code %d, want %d", code, frame.CloseStale)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return s.pool.Totals().Stale == 1 }, "stale not counted")
	// The peer that answers pings stays and has a round trip.
	natstest.Eventually(t, 5*time.Second, func() bool {
		cs := s.pool.Conns(nil)
		return len(cs) == 1 && cs[0].RTT() > 0
	}, "healthy peer not measured")
	select {
	case <-good.closed:
		t.Fatal("healthy peer closed")
	default:
	}
}

func TestSlowConsumerBounded(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-slow")
	cfg.SendQueue, cfg.ReplayWindow = 32, 8
	cfg.PingInterval = time.Minute // the reader never answers pings: not stale, slow
	s := startNode(t, cfg)
	ws := rawDial(t, s.Addr())
	if err := ws.WriteString(`{"op":"subscribe","id":1,"channel":"flood"}`); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return s.hub.Stats().Subscribers == 1 }, "not subscribed")
	_, js := ns.JetStream()
	payload := []byte(`"` + strings.Repeat("x", 32<<10) + `"`)
	maxSeen := 0
	for i := 0; i < 600 && s.pool.Totals().Slow == 0; i++ {
		if _, err := js.Publish(context.Background(), events.ChannelSubject("flood"), payload); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.pool.Conns(nil) {
			maxSeen = max(maxSeen, c.Backlog())
		}
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return s.pool.Totals().Slow == 1 }, "slow consumer not closed")
	natstest.Eventually(t, 10*time.Second, func() bool {
		return s.pool.Len() == 0 && s.pool.Totals().Closed[events.CauseSlow] == 1
	}, "slow close not counted")
	if maxSeen > cfg.SendQueue {
		t.Fatalf("backlog reached %d, bound %d", maxSeen, cfg.SendQueue)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return s.pool.Totals().Backlog == 0 }, "backlog not released")
}

func TestAdmission(t *testing.T) {
	ns := natstest.Start(t)
	cases := []struct {
		name  string
		tweak func(*Config)
	}{
		{"max conns", func(c *Config) { c.MaxConns = 2 }},
		{"accept rate", func(c *Config) { c.AcceptRate = 0.01; c.AcceptBurst = 2 }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(ns, fmt.Sprintf("gw-adm%d", i))
			tc.tweak(&cfg)
			s := startNode(t, cfg)
			dial(t, s.URL())
			dial(t, s.URL())
			_, resp, err := tryDial(t, s.URL(), false)
			if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("third upgrade: err %v resp %v, want 503", err, resp)
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if got := s.pool.Totals().Rejected; got != 1 {
				t.Fatalf("rejected = %d", got)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-auth")
	cfg.Auth, cfg.JWTSecret = "jwt", "0123456789abcdef0123"
	s := startNode(t, cfg)
	sign := func(secret string, exp time.Duration) string {
		c := auth.Claims{Subs: []string{"news", "chat:*"}, Pubs: []string{"chat:*"}}
		c.Subject = "u1"
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(exp))
		tok, err := auth.Sign(secret, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	refused := []struct {
		name, query string
		code        int
	}{
		{"missing", "", frame.CloseUnauthorized},
		{"garbage", "?token=abc", frame.CloseUnauthorized},
		{"wrong secret", "?token=" + sign("another-secret-of-16b", time.Hour), frame.CloseUnauthorized},
		{"expired", "?token=" + sign(cfg.JWTSecret, -time.Hour), frame.CloseTokenExpired},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := &client{t: t, frames: make(chan frame.Server, 10), closed: make(chan struct{})}
			ws, _, err := gws.NewClient(c, &gws.ClientOption{Addr: s.URL() + tc.query})
			if err != nil {
				t.Fatal(err)
			}
			go ws.ReadLoop()
			if code := c.waitClosed(5 * time.Second); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
	c := dial(t, s.URL()+"?token="+sign(cfg.JWTSecret, time.Hour))
	if f := c.reply(c.send(frame.Client{Op: frame.OpSubscribe, Channel: "chat:1"}), nil); f.Op != frame.OpReply {
		t.Fatalf("allowed subscribe = %+v", f)
	}
	if f := c.reply(c.send(frame.Client{Op: frame.OpSubscribe, Channel: "secret"}), nil); f.Code != frame.CodeForbidden {
		t.Fatalf("forbidden subscribe = %+v", f)
	}
	if f := c.reply(c.send(frame.Client{Op: frame.OpPublish, Channel: "news", Data: json.RawMessage(`1`)}), nil); f.Code != frame.CodeForbidden {
		t.Fatalf("forbidden publish = %+v", f)
	}
	if s.pool.Len() != 1 {
		t.Fatalf("connections = %d", s.pool.Len())
	}
}

func TestIdleEvicted(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-idle")
	cfg.IdleTimeout = 300 * time.Millisecond
	s := startNode(t, cfg)
	idle := dial(t, s.URL())
	busy := dial(t, s.URL())
	busy.reply(busy.send(frame.Client{Op: frame.OpSubscribe, Channel: "keep"}), nil)
	if code := idle.waitClosed(5 * time.Second); code != frame.CloseIdle {
		t.Fatalf("close code %d, want %d", code, frame.CloseIdle)
	}
	natstest.Eventually(t, 5*time.Second, func() bool {
		tot := s.pool.Totals()
		return tot.Evicted == 1 && tot.Closed[events.CauseIdle] == 1 && tot.Open == 1
	}, "eviction not counted or subscribed client evicted")
}

func TestMetricsScrape(t *testing.T) {
	ns := natstest.Start(t)
	s := startNode(t, testConfig(ns, "gw-met"))
	dial(t, s.URL())
	u := strings.Replace(strings.TrimSuffix(s.URL(), "/ws"), "ws://", "http://", 1) + "/metrics"
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"wsheal_gateway_connections 1", "wsheal_gateway_connections_opened_total 1",
		`wsheal_gateway_connections_closed_total{cause="stale"} 0`, "wsheal_gateway_rtt_seconds_bucket",
		"wsheal_gateway_slow_consumers_total 0", "wsheal_gateway_send_backlog",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestOversizeFrameClosed(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-big")
	cfg.MaxMessage = 1024
	s := startNode(t, cfg)
	c := dial(t, s.URL())
	big := `{"op":"publish","id":1,"channel":"a","data":"` + strings.Repeat("x", 2048) + `"}`
	if err := c.ws.WriteString(big); err != nil {
		t.Fatal(err)
	}
	if code := c.waitClosed(5 * time.Second); code != 1009 {
		t.Fatalf("close code %d, want 1009", code)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return s.pool.Totals().Closed[events.CauseError] == 1 }, "oversize close not counted as an error")
	d := dial(t, s.URL()) // the node keeps serving
	d.send(frame.Client{Op: frame.OpPing, ID: 1})
	d.expect(frame.OpPong)
}

func TestInboundRateLimited(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-rl")
	cfg.InboundRate, cfg.InboundBurst = 5, 5
	s := startNode(t, cfg)
	c := dial(t, s.URL())
	for i := range 20 {
		if err := c.ws.WriteString(fmt.Sprintf(`{"op":"ping","id":%d}`, i+1)); err != nil {
			break // closed under us
		}
	}
	if code := c.waitClosed(5 * time.Second); code != frame.CloseRateLimited {
		t.Fatalf("close code %d, want %d", code, frame.CloseRateLimited)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-hs")
	cfg.HandshakeTimeout = 300 * time.Millisecond
	s := startNode(t, cfg)
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte("GET /ws HTTP/1.1\r\n")); err != nil { // and never the rest
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	for {
		if _, err := nc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the node kept a silent handshake open")
			}
			return // closed by the node
		}
	}
}

func TestTokenExpiresWhileOpen(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-exp")
	cfg.Auth, cfg.JWTSecret = "jwt", "0123456789abcdef0123"
	s := startNode(t, cfg)
	claims := auth.Claims{Subs: []string{"*"}}
	claims.ExpiresAt = jwt.NewNumericDate(time.Now().Add(1500 * time.Millisecond))
	tok, err := auth.Sign(cfg.JWTSecret, claims)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.URL()+"?token="+tok)
	if code := c.waitClosed(10 * time.Second); code != frame.CloseTokenExpired {
		t.Fatalf("close code %d, want %d", code, frame.CloseTokenExpired)
	}
}
