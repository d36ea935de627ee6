package system

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsheal/wsheal/pkg/client"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/auth"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
)

const testSecret = "0123456789abcdef-secret"

// nodeConfig is a gateway node on ns with short intervals.
func nodeConfig(ns *natstest.Server, node string) gateway.Config {
	cfg := gatewaytest.Config(ns.URL(), node)
	// Short liveness so that stale detection and failover are quick.
	cfg.PingInterval, cfg.PongDeadline = 200*time.Millisecond, 300*time.Millisecond
	return cfg
}

// startNode runs a gateway in process until the test ends.
func startNode(t testing.TB, cfg gateway.Config) *gateway.Service {
	t.Helper()
	return gatewaytest.Start(t, cfg)
}

// publishAll publishes 1..n to channel in order, each acknowledged.
func publishAll(t *testing.T, c *client.Client, channel string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Publish(ctx, channel, []byte(strconv.Itoa(i)))
		cancel()
		if err != nil {
			t.Errorf("publish %d: %v", i, err)
			return
		}
	}
}

// TestGatewayKillFailover: the node a subscriber is on crashes; the
// client reconnects to the other node and resumes without loss while a
// publisher keeps publishing through the crash.
func TestGatewayKillFailover(t *testing.T) {
	ns := natstest.Start(t)
	nodes := map[string]*gateway.Service{}
	for _, n := range []string{"gw-a", "gw-b"} {
		nodes[n] = startNode(t, nodeConfig(ns, n))
	}
	urls := []string{nodes["gw-a"].URL(), nodes["gw-b"].URL()}
	rec := &recorder{}
	sub := dialT(t, testConfig(rec, urls...))
	if _, err := sub.Subscribe(context.Background(), "ticks", rec.handle); err != nil {
		t.Fatal(err)
	}
	pub := dialT(t, testConfig(&recorder{}, urls...))
	publishAll(t, pub, "ticks", 1, 20)
	natstest.Eventually(t, 10*time.Second, func() bool { return rec.count() == 20 }, "first 20, got %d", rec.count())

	victim := rec.kinds(client.Connected)[0].Node
	done := make(chan struct{})
	go func() { defer close(done); publishAll(t, pub, "ticks", 21, 120) }()
	natstest.Eventually(t, 10*time.Second, func() bool { return rec.count() >= 40 }, "publishing")
	nodes[victim].Kill()
	<-done
	natstest.Eventually(t, 15*time.Second, func() bool { return rec.count() >= 120 }, "all 120, got %d", rec.count())

	_, data, gaps, _ := rec.snapshot()
	wantInOrder(t, data, 120)
	if len(gaps) != 0 {
		t.Fatalf("gaps %v", gaps)
	}
	conn := rec.kinds(client.Connected)
	if len(conn) < 2 || conn[len(conn)-1].Node == victim {
		t.Fatalf("connected states %+v: not moved off %s", conn, victim)
	}
}

// TestGatewayDrainMoves: draining the node sends a reconnect hint; the
// client waits the hint's delay, moves to the node it names and resumes.
func TestGatewayDrainMoves(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, nodeConfig(ns, "gw-a"))
	b := startNode(t, nodeConfig(ns, "gw-b"))
	rec := &recorder{}
	sub := dialT(t, testConfig(rec, a.URL())) // only a: the hint alone can move it
	if _, err := sub.Subscribe(context.Background(), "news", rec.handle); err != nil {
		t.Fatal(err)
	}
	pub := dialT(t, testConfig(&recorder{}, b.URL()))
	publishAll(t, pub, "news", 1, 10)
	natstest.Eventually(t, 10*time.Second, func() bool { return rec.count() == 10 }, "first 10")

	// Wait until a knows b as a fresh node to send clients to.
	natstest.Eventually(t, 10*time.Second, func() bool { return drain(t, ns, a.Node()) == nil }, "drain accepted")
	natstest.Eventually(t, 10*time.Second, func() bool {
		c := rec.kinds(client.Connected)
		return len(c) == 2 && sub.Connected()
	}, "moved")
	publishAll(t, pub, "news", 11, 20)
	natstest.Eventually(t, 10*time.Second, func() bool { return rec.count() >= 20 }, "all 20")
	_, data, _, _ := rec.snapshot()
	wantInOrder(t, data, 20)
	conn := rec.kinds(client.Connected)
	if conn[1].Node != "gw-b" || conn[1].URL != b.URL() {
		t.Fatalf("moved to %s (%s), want gw-b", conn[1].Node, conn[1].URL)
	}
	re := rec.kinds(client.Reconnecting)
	if len(re) != 1 || !re[0].Hinted {
		t.Fatalf("reconnecting states %+v, want one from the hint", re)
	}
	d := rec.kinds(client.Disconnected)
	if len(d) != 1 {
		t.Fatalf("disconnected states %+v", d)
	}
	if moved := conn[1].Time.Sub(d[0].Time); moved < re[0].Delay {
		t.Fatalf("reconnected %v after the close, before the hint's remaining %v", moved, re[0].Delay)
	}
}

func drain(t *testing.T, ns *natstest.Server, node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var rep events.DrainReply
	cmd := events.DrainCommand{ID: fmt.Sprintf("d-%d", time.Now().UnixNano()), OverMS: 300}
	return events.Request(ctx, ns.Conn(), events.GatewayControlSubject(node, events.VerbDrain), cmd, &rep)
}

// TestGatewayToken: a bad token stops the client with ErrUnauthorized and
// no retry; a valid one connects.
func TestGatewayToken(t *testing.T) {
	ns := natstest.Start(t)
	cfg := nodeConfig(ns, "gw-a")
	cfg.Auth, cfg.JWTSecret = "jwt", testSecret
	n := startNode(t, cfg)
	good, err := auth.Sign(testSecret, auth.Claims{Subs: []string{"*"}, Pubs: []string{"*"},
		RegisteredClaims: jwt.RegisteredClaims{Subject: "u1", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{{"valid", good, true}, {"invalid", "not-a-jwt", false}, {"missing", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			ccfg := testConfig(rec, n.URL())
			ccfg.Token = tc.token
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, ccfg)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				_ = c.Close()
				return
			}
			if !errors.Is(err, client.ErrUnauthorized) || ctx.Err() != nil {
				t.Fatalf("dial = %v, want ErrUnauthorized at once", err)
			}
			if n := len(rec.kinds(client.Reconnecting)); n != 0 {
				t.Fatalf("%d reconnects after a bad token", n)
			}
		})
	}
}

// TestGatewayDiscovery: with only a discovery URL the client asks
// /v1/connect which node to use and connects there.
func TestGatewayDiscovery(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, nodeConfig(ns, "gw-a"))
	rec := &recorder{}
	cfg := testConfig(rec)
	cfg.Discovery = "http://" + a.Addr() + "/v1/connect"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg) // retried until the node has registered itself
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := rec.kinds(client.Connected)
	if len(conn) != 1 || conn[0].URL != a.URL() || conn[0].Node != "gw-a" {
		t.Fatalf("connected %+v, want gw-a at %s", conn, a.URL())
	}
}

// TestGatewayStreamRecreated: the channel stream is deleted and created
// again under a live subscription. The node asks the client to start over;
// it resumes with its old position and epoch, is told recovered:false
// (a Gap), learns the new epoch, and delivers the new stream's messages
// from there on, in order.
func TestGatewayStreamRecreated(t *testing.T) {
	ns := natstest.Start(t)
	node := startNode(t, nodeConfig(ns, "gw-ep"))
	rec := &recorder{}
	c := dialT(t, testConfig(rec, node.URL()))
	sub, err := c.Subscribe(context.Background(), "feed", rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	pub := dialT(t, testConfig(&recorder{}, node.URL()))
	publishAll(t, pub, "feed", 1, 5)
	natstest.Eventually(t, 10*time.Second, func() bool { return rec.count() == 5 }, "first 5")
	before := sub.Epoch()
	if before == "" {
		t.Fatal("no epoch after the subscribe reply")
	}

	_, js := ns.JetStream()
	if err := js.DeleteStream(context.Background(), events.StreamChannels); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	// Messages of the new stream: their sequences start again, below what
	// the client delivered. Publish until the client is back on the new
	// epoch, then ten more that must all arrive.
	natstest.Eventually(t, 20*time.Second, func() bool {
		publishAll(t, pub, "feed", 100, 100)
		_, _, gaps, _ := rec.snapshot()
		return len(gaps) == 1 && sub.Epoch() != before
	}, "no gap reported on the new epoch (gaps %v, epoch %q)", len(rec.gaps), sub.Epoch())
	publishAll(t, pub, "feed", 1001, 1010)
	natstest.Eventually(t, 10*time.Second, func() bool {
		_, data, _, _ := rec.snapshot()
		return len(data) >= 15 && data[len(data)-1] == "1010"
	}, "new messages after the gap")
	seqs, data, gaps, _ := rec.snapshot()
	tail := data[len(data)-10:]
	for i, d := range tail {
		if want := 1001 + i; d != strconv.Itoa(want) {
			t.Fatalf("after the gap: %v", tail)
		}
	}
	if gaps[0].After != seqs[4] {
		t.Fatalf("gap %+v", gaps[0])
	}
	if !slices.IsSorted(seqs[5:]) {
		t.Fatalf("sequences of the new epoch out of order: %v", seqs[5:])
	}
}
