package conformance

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
)

// fleet is a real NATS server and gateways on it, each with its own
// listener and NATS connection.
type fleet struct {
	t     testing.TB
	ns    *natstest.Server
	mu    sync.Mutex
	nodes []*gateway.Service
	dead  map[int]bool
}

// startFleet runs n gateways. Pings are slow enough that a stalled
// reader is cut off for its full send queue (4002), not as stale; the
// send queue is short (256 frames, replays keep 64 queued) so that a
// stall of a few hundred messages reaches it.
func startFleet(t testing.TB, n int) *fleet {
	t.Helper()
	f := &fleet{t: t, ns: natstest.Start(t), dead: map[int]bool{}}
	for i := range n {
		cfg := gatewaytest.Config(f.ns.URL(), "gw-"+string(rune('a'+i)))
		cfg.PingInterval, cfg.PongDeadline = 5*time.Second, time.Minute
		cfg.MaxConns, cfg.AcceptRate, cfg.AcceptBurst = 20000, 20000, 20000
		cfg.SendQueue, cfg.ReplayWindow = 256, 64
		f.nodes = append(f.nodes, gatewaytest.Start(t, cfg))
	}
	return f
}

// live returns the address of a random live node.
func (f *fleet) live(r *rand.Rand) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		i := r.IntN(len(f.nodes))
		if !f.dead[i] {
			return f.nodes[i].Addr()
		}
	}
}

// kill crashes node i (listener and every connection dropped at once).
func (f *fleet) kill(i int) {
	f.mu.Lock()
	f.dead[i] = true
	f.mu.Unlock()
	f.nodes[i].Kill()
}

// connect finds a node the way a client of the document would: ask a
// node's /v1/connect, fall back to that node itself.
func (f *fleet) connect(r *rand.Rand, rcvbuf int, handle func(in)) (*wire, error) {
	addr := f.live(r)
	if to, err := discover(addr); err == nil {
		addr = to
	}
	return dialWire(addr, rcvbuf, handle)
}

// stream reads the channel stream's state.
func (f *fleet) stream(ctx context.Context) (*jetstream.StreamInfo, error) {
	_, js := f.ns.JetStream()
	s, err := js.Stream(ctx, events.StreamChannels)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// limitBytes makes the channel stream keep at most maxBytes, discarding
// old messages first (an operator's change of retention).
func (f *fleet) limitBytes(ctx context.Context, maxBytes int64) error {
	_, js := f.ns.JetStream()
	s, err := js.Stream(ctx, events.StreamChannels)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	cfg := info.Config
	cfg.MaxBytes, cfg.Discard = maxBytes, jetstream.DiscardOld
	_, err = js.UpdateStream(ctx, cfg)
	return err
}

// slowCloses reads, from node i's /metrics, how many connections it
// closed as slow consumers (send queue full).
func (f *fleet) slowCloses(i int) (int, error) {
	resp, err := http.Get("http://" + f.nodes[i].Addr() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	prefix := `wsheal_gateway_connections_closed_total{cause="` + events.CauseSlow + `"} `
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			return int(n), err
		}
	}
	return 0, nil
}
