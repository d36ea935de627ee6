package monitor_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// testNode publishes a gateway's real events over real NATS: heartbeats,
// health snapshots and lifecycle. It is not a gateway: it holds no
// WebSocket clients, which the monitor never sees anyway. Its URL points
// at a listener chosen by the test (refusing, or accepting without ever
// answering, like a stopped process).
type testNode struct {
	t        testing.TB
	id       string
	url      string
	em       *events.Emitter
	interval time.Duration

	mu      sync.Mutex
	conns   int
	health  func(*events.Health)
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
}

// refusedURL is the URL of a port nobody listens on: a crashed node.
func refusedURL(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "ws://" + addr + "/ws"
}

// wedgedURL is the URL of a listener that never accepts: the kernel still
// completes handshakes, as for a SIGSTOPped process.
func wedgedURL(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return "ws://" + ln.Addr().String() + "/ws"
}

func newTestNode(t testing.TB, srv *natstest.Server, id, url string, interval time.Duration) *testNode {
	nc, js := srv.JetStream()
	n := &testNode{t: t, id: id, url: url, interval: interval, conns: 100,
		em: events.NewEmitter(nc, js, events.Source(events.ServiceGateway, id))}
	n.Start()
	t.Cleanup(n.Kill)
	return n
}

// Start begins beating as a freshly started process.
func (n *testNode) Start() {
	n.mu.Lock()
	if n.cancel != nil {
		n.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done, n.started = cancel, make(chan struct{}), time.Now().UTC()
	n.mu.Unlock()
	n.emit(events.LifecycleSubject(n.id), &events.Lifecycle{Node: n.id, Phase: events.LifecycleStarted, URL: n.url})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.every(ctx, n.interval, n.beat) }()
	// Snapshots go through JetStream (acknowledged): on their own
	// goroutine, so that a slow ack never delays a heartbeat.
	go func() { defer wg.Done(); n.every(ctx, 5*n.interval, func(uint64) { n.snapshot() }) }()
	go func() { wg.Wait(); close(n.done) }()
}

// every calls f at once and then every d until ctx ends.
func (n *testNode) every(ctx context.Context, d time.Duration, f func(seq uint64)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for seq := uint64(1); ; seq++ {
		f(seq)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *testNode) beat(seq uint64) {
	n.mu.Lock()
	hb := events.Heartbeat{Node: n.id, URL: n.url, Seq: seq, Connections: n.conns, Capacity: 1000, StartedAt: n.started,
		IntervalMS: n.interval.Milliseconds(), Version: "test"}
	n.mu.Unlock()
	n.emit(events.HeartbeatSubject(n.id), &hb)
}

func (n *testNode) snapshot() {
	n.mu.Lock()
	h := events.Health{Node: n.id, IntervalMS: 5 * n.interval.Milliseconds(), Connections: n.conns, Capacity: 1000,
		RTT: events.RTT{P50: 5, P90: 8, P99: 10, Samples: 100}, Closed: map[string]int{}}
	if n.health != nil {
		n.health(&h)
	}
	n.mu.Unlock()
	n.emit(events.HealthSubject(n.id), &h)
}

func (n *testNode) emit(subject string, p events.Payload) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = n.em.Emit(ctx, subject, p)
}

// SetHealth changes what the next snapshots report.
func (n *testNode) SetHealth(f func(*events.Health)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.health = f
}

// Kill stops every event at once, as a crash or a hang does.
func (n *testNode) Kill() {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.cancel = nil
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Stop is a clean shutdown: the node announces it, then goes quiet.
func (n *testNode) Stop() {
	n.emit(events.LifecycleSubject(n.id), &events.Lifecycle{Node: n.id, Phase: events.LifecycleStopping, Reason: "test"})
	n.Kill()
}

// stored reads every anomaly event in WSHEAL_ANOMALIES.
func stored(t testing.TB, js jetstream.JetStream) []events.Anomaly {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.StreamAnomalies)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []events.Anomaly
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		ev, err := events.Decode(msg.Data)
		if err != nil {
			t.Fatalf("stored anomaly undecodable: %v", err)
		}
		a, _ := events.As[*events.Anomaly](ev)
		if msg.Header.Get(jetstream.MsgIDHeader) != a.ID+":"+a.State {
			t.Fatalf("Nats-Msg-Id %q for anomaly %s %s", msg.Header.Get(jetstream.MsgIDHeader), a.ID, a.State)
		}
		out = append(out, *a)
	}
	return out
}

// count counts stored anomalies of kind on target in state ("" any).
func count(list []events.Anomaly, kind, target, state string) int {
	n := 0
	for _, a := range list {
		if a.Kind == kind && (target == "" || a.Target == target) && (state == "" || a.State == state) {
			n++
		}
	}
	return n
}

// firstOf returns the first stored anomaly of kind on target.
func firstOf(list []events.Anomaly, kind, target string) events.Anomaly {
	for _, a := range list {
		if a.Kind == kind && a.Target == target {
			return a
		}
	}
	return events.Anomaly{}
}
