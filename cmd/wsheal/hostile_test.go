package main

import (
	"bytes"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// The hostile suite: a real gateway process (`wsheal serve gateway`, JWT
// auth on) against an embedded nats-server, attacked over real sockets.
// Each attacker dials from its own loopback address (127.0.0.2, ...), so
// the gateway sees it as another peer than the well-behaved clients
// (127.0.0.1).

// rssBound is the resident set the gateway must stay under while four
// connections flood it with pings and never read (unbounded, one pong
// queued per ping grew a gateway past 1.6 GB in 10 s).
const rssBound = 150 << 20

func TestHostilePingFloodRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	// No inbound rate limit: the bound on pending pongs alone must hold.
	g := startGateway(t, ns, "WSHEAL_GATEWAY_INBOUND_RATE=0", "WSHEAL_GATEWAY_PING_INTERVAL=1m", "WSHEAL_GATEWAY_PONG_DEADLINE=1m")
	base := g.rss(t)
	flood := pingFlood(1000)
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		ws, status, err := dialWS("127.0.0.2", g.addr, token(t), nil)
		if err != nil || status != http.StatusSwitchingProtocols {
			t.Fatalf("attacker %d: status %d err %v", i, status, err)
		}
		_ = ws.c.(*net.TCPConn).SetReadBuffer(4096) // and never read
		defer ws.c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = ws.c.SetWriteDeadline(time.Now().Add(time.Second))
				n, err := ws.c.Write(flood)
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	peak := base
	end := time.Now().Add(6 * time.Second)
	for time.Now().Before(end) {
		peak = max(peak, g.rss(t))
		time.Sleep(100 * time.Millisecond) // paces the sampling
	}
	close(stop)
	wg.Wait()
	t.Logf("ping flood: %d MB of pings sent over 6 s by 4 connections; gateway RSS %d MiB before, peak %d MiB (bound %d MiB)",
		sent.Load()>>20, base>>20, peak>>20, rssBound>>20)
	if sent.Load() < 20<<20 {
		t.Fatalf("only %d bytes of pings sent: the flood did not happen", sent.Load())
	}
	if peak > rssBound {
		t.Fatalf("gateway RSS peaked at %d MiB, over the %d MiB bound", peak>>20, rssBound>>20)
	}
	if g.get("/healthz", "127.0.0.1") != http.StatusOK {
		t.Fatal("gateway stopped serving after the flood")
	}
}

func TestHostileUnsolicitedPongs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	g := startGateway(t, ns, "WSHEAL_GATEWAY_PING_INTERVAL=200ms", "WSHEAL_GATEWAY_PONG_DEADLINE=600ms")
	ws, status, err := dialWS("127.0.0.2", g.addr, token(t), nil)
	if err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("status %d err %v", status, err)
	}
	defer ws.c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a half-open peer's keepalives: empty and forged pongs, never the ping's echo
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if ws.write(0xA, nil) != nil || ws.write(0xA, []byte{0, 0, 0, 0, 0, 0, 0, 1}) != nil {
					return
				}
			}
		}
	}()
	if code := ws.closeCode(10 * time.Second); code != frame.CloseStale {
		t.Fatalf("close code %d, want %d (stale)", code, frame.CloseStale)
	}
}

func TestHostileControlFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	g := startGateway(t, ns, "WSHEAL_GATEWAY_INBOUND_RATE=50", "WSHEAL_GATEWAY_INBOUND_BURST=100")
	ws, status, err := dialWS("127.0.0.2", g.addr, token(t), nil)
	if err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("status %d err %v", status, err)
	}
	defer ws.c.Close()
	// 300 small pings in one write, which the gateway reads at once: its
	// close is then not turned into a reset by unread data.
	if _, err := ws.c.Write(bytes.Repeat(wsFrame(0x9, []byte("x")), 300)); err != nil {
		t.Fatal(err)
	}
	if code := ws.closeCode(10 * time.Second); code != frame.CloseRateLimited {
		t.Fatalf("close code %d, want %d (rate limited)", code, frame.CloseRateLimited)
	}
}

// TestHostileBadTokens: an attacker sends bad tokens as fast as it can
// while 40 valid clients connect at 10 per second against a node-wide
// accept rate of 20 per second: every valid client is admitted, first
// because tokens are verified before admission (failure limit off), then
// with the per-address failure limit cutting the attacker off with 429.
func TestHostileBadTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	for _, tc := range []struct {
		name, failures string
		limited        bool
	}{{"verified before admission", "0", false}, {"failure limit per address", "10", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := natstest.Start(t)
			g := startGateway(t, ns, "WSHEAL_GATEWAY_ACCEPT_RATE=20", "WSHEAL_GATEWAY_ACCEPT_BURST=20",
				"WSHEAL_GATEWAY_AUTH_FAILURES_PER_IP="+tc.failures)
			attempts, limited, admitted := badTokenAttack(t, g)
			t.Logf("bad tokens: %d attempts, %d refused 429; valid clients admitted %d/40", attempts, limited, admitted)
			if admitted != 40 {
				t.Fatalf("%d of 40 valid clients admitted", admitted)
			}
			if attempts < 100 || (limited > 0) != tc.limited {
				t.Fatalf("attack: %d attempts, %d limited (want limited: %v)", attempts, limited, tc.limited)
			}
		})
	}
}

// badTokenAttack runs 8 attackers with bad tokens from 127.0.0.2 while 40
// valid clients connect from 127.0.0.1 at 10 per second.
func badTokenAttack(t *testing.T, g *gwProc) (attempts, limited int64, admitted int) {
	stop := make(chan struct{})
	var nAttempts, nLimited atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ws, status, err := dialWS("127.0.0.2", g.addr, "not-a-token", nil)
				if err != nil {
					continue
				}
				nAttempts.Add(1)
				if status == http.StatusTooManyRequests {
					nLimited.Add(1)
				}
				if ws != nil {
					ws.c.Close()
				}
			}
		}()
	}
	for i := range 40 {
		ws, status, err := dialWS("127.0.0.1", g.addr, token(t), nil)
		if err == nil && status == http.StatusSwitchingProtocols {
			admitted++
			defer ws.c.Close()
		} else {
			t.Logf("valid client %d: status %d err %v", i, status, err)
		}
		time.Sleep(100 * time.Millisecond) // paces the valid clients at 10/s
	}
	close(stop)
	wg.Wait()
	return nAttempts.Load(), nLimited.Load(), admitted
}

func TestHostilePerAddressCap(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	g := startGateway(t, ns, "WSHEAL_GATEWAY_MAX_CONNS_PER_IP=5")
	var open []*rawWS
	for i := range 5 {
		ws, status, err := dialWS("127.0.0.2", g.addr, token(t), nil)
		if err != nil || status != http.StatusSwitchingProtocols {
			t.Fatalf("connection %d: status %d err %v", i, status, err)
		}
		defer ws.c.Close()
		open = append(open, ws)
	}
	if _, status, err := dialWS("127.0.0.2", g.addr, token(t), nil); err != nil || status != http.StatusTooManyRequests {
		t.Fatalf("sixth connection from one address: status %d err %v, want 429", status, err)
	}
	if ws, status, err := dialWS("127.0.0.3", g.addr, token(t), nil); err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("another address: status %d err %v", status, err)
	} else {
		defer ws.c.Close()
	}
	open[0].c.Close()
	natstest.Eventually(t, 5*time.Second, func() bool {
		ws, status, err := dialWS("127.0.0.2", g.addr, token(t), nil)
		if err == nil && ws != nil {
			defer ws.c.Close()
		}
		return status == http.StatusSwitchingProtocols
	}, "a closed connection's place was not given back")
}

// TestHostileTrustedProxy: behind a trusted load balancer the per-address
// cap applies to the client X-Forwarded-For names; from any other socket
// the header is ignored, so a client cannot pick a fresh address.
func TestHostileTrustedProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ns := natstest.Start(t)
	g := startGateway(t, ns, "WSHEAL_GATEWAY_MAX_CONNS_PER_IP=2", "WSHEAL_GATEWAY_TRUSTED_PROXIES=127.0.0.9/32")
	upgrade := func(from, client string) int {
		ws, status, err := dialWS(from, g.addr, token(t), http.Header{"X-Forwarded-For": {client}})
		if err != nil {
			t.Fatal(err)
		}
		if ws != nil {
			t.Cleanup(func() { ws.c.Close() })
		}
		return status
	}
	for i, tc := range []struct {
		from, client string
		want         int
	}{
		{"127.0.0.9", "198.51.100.1", http.StatusSwitchingProtocols},
		{"127.0.0.9", "198.51.100.1", http.StatusSwitchingProtocols},
		{"127.0.0.9", "198.51.100.1", http.StatusTooManyRequests}, // that client's cap
		{"127.0.0.9", "198.51.100.2", http.StatusSwitchingProtocols},
		{"127.0.0.4", "198.51.100.3", http.StatusSwitchingProtocols},
		{"127.0.0.4", "198.51.100.4", http.StatusSwitchingProtocols},
		{"127.0.0.4", "198.51.100.5", http.StatusTooManyRequests}, // untrusted: counted as 127.0.0.4
	} {
		if got := upgrade(tc.from, tc.client); got != tc.want {
			t.Fatalf("upgrade %d from %s as %s: %d, want %d", i, tc.from, tc.client, got, tc.want)
		}
	}
}
