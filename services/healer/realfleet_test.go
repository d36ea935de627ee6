package healer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/client"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
	"github.com/wsheal/wsheal/services/monitor"
)

// realFleet runs real gateway nodes in process; a kill is the gateway's
// own crash (listener, sockets and NATS dropped at once), a restart a new
// node with the same id on a new port.
type realFleet struct {
	t   *testing.T
	srv *natstest.Server
	nc  *nats.Conn

	mu    sync.Mutex
	nodes map[string]*gateway.Service
	stops map[string]func()
}

func newRealFleet(t *testing.T, srv *natstest.Server) *realFleet {
	return &realFleet{t: t, srv: srv, nc: natsConn(t, srv.URL()), nodes: map[string]*gateway.Service{}, stops: map[string]func(){}}
}

func gatewayConfig(srv *natstest.Server, node string) gateway.Config {
	cfg := gatewaytest.Config(srv.URL(), node)
	cfg.MaxConns, cfg.AcceptRate, cfg.AcceptBurst = 1000, 1000, 1000
	// Pings often, but a deadline an SDK client meets on a loaded host
	// (a client closed as stale would reconnect and move the counts).
	cfg.PingInterval, cfg.PongDeadline = 200*time.Millisecond, 2*time.Second
	return cfg
}

// start runs node until the test ends, Kill or restart.
func (f *realFleet) start(node string) *gateway.Service {
	f.t.Helper()
	s, stop := gatewaytest.Run(f.t, gatewayConfig(f.srv, node))
	f.t.Cleanup(stop)
	f.mu.Lock()
	f.nodes[node], f.stops[node] = s, stop
	f.mu.Unlock()
	return s
}

// kill crashes node.
func (f *realFleet) kill(node string) {
	f.mu.Lock()
	s, stop := f.nodes[node], f.stops[node]
	f.mu.Unlock()
	s.Kill()
	stop()
}

// status asks node for its summary over its control service.
func (f *realFleet) status(node string) (events.GatewayStatus, error) {
	var st events.GatewayStatus
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := events.Request(ctx, f.nc, events.GatewayControlSubject(node, events.VerbStatus), &events.GatewayStatusRequest{}, &st)
	return st, err
}

// conns returns the connections of each answering node.
func (f *realFleet) conns(nodes ...string) map[string]int {
	out := map[string]int{}
	for _, n := range nodes {
		if st, err := f.status(n); err == nil {
			out[n] = st.Connections
		}
	}
	return out
}

// allConns waits until every node answers its status (a status request
// may time out on a loaded host) and returns their connections.
func (f *realFleet) allConns(nodes ...string) map[string]int {
	f.t.Helper()
	var c map[string]int
	natstest.Eventually(f.t, 30*time.Second, func() bool { c = f.conns(nodes...); return len(c) == len(nodes) },
		"every node answers its status")
	return c
}

// clients dials n real SDK clients to urls; they reconnect by themselves.
func dialClients(t *testing.T, n int, urls ...string) []*client.Client {
	t.Helper()
	out := make([]*client.Client, 0, n)
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, client.Config{URLs: urls, DialTimeout: 2 * time.Second,
			Backoff: client.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond, Stable: time.Second}})
		cancel()
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		out = append(out, c)
	}
	return out
}

// startRealSupervisor answers the dev restart request by starting the
// node again in process, as `wsheal dev` restarts a child: it answers once
// the start is under way, not once the node serves (on a loaded host that
// can take longer than the healer's command timeout); the healer's verify
// waits for the new process's heartbeats.
func startRealSupervisor(t *testing.T, srv *natstest.Server, f *realFleet) {
	serveRestarts(t, srv, func(node string) { go f.start(node) })
}

// serveRestarts is a stand-in for the dev supervisor's restart endpoint:
// start runs the node again; the same command id twice starts it once.
func serveRestarts(t *testing.T, srv *natstest.Server, start func(node string)) {
	nc := srv.Conn()
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName(events.ServiceDev), Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	var mu sync.Mutex
	done := map[string]bool{}
	err = svc.AddGroup(events.ControlGroup(events.ServiceDev)).AddEndpoint(events.VerbRestart, micro.HandlerFunc(func(req micro.Request) {
		var cmd events.RestartCommand
		if err := events.DecodeCommand(req.Data(), &cmd); err != nil {
			events.RespondError(req, err)
			return
		}
		mu.Lock()
		again := done[cmd.ID]
		done[cmd.ID] = true
		mu.Unlock()
		if !again {
			start(cmd.Node)
		}
		events.Respond(req, events.RestartReply{Process: events.Process{Name: cmd.Node, Service: events.ServiceGateway, Running: true}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// startRealMonitor runs the monitor with short timings.
func startRealMonitor(t *testing.T, srv *natstest.Server, tune func(*monitor.Config)) {
	t.Setenv(monitor.EnvPrefix+"_NATS_URL", srv.URL())
	cfg, err := monitor.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Instance, cfg.Listen = "m1", "off"
	cfg.Tick, cfg.FleetEvery, cfg.Beat, cfg.ProbeTimeout = 20*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond
	// The gateways beat every 100 ms: a node is down after 1.5 s without a
	// beat, not 300 ms, so that a live node whose process waits for the CPU
	// on a loaded host is not taken for hung (and restarted).
	cfg.SuspectMisses, cfg.DownMisses = 5, 15
	if tune != nil {
		tune(&cfg)
	}
	svc, err := monitor.New(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("monitor: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("monitor did not stop")
		}
	})
}

// anomalies reads the last anomaly event of kind on target from the stream.
func lastAnomaly(t *testing.T, srv *natstest.Server, kind, target string) *events.Anomaly {
	_, js := srv.JetStream()
	st, err := js.Stream(context.Background(), events.StreamAnomalies)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(context.Background(), events.AnomalySubject(kind, target))
	if err != nil {
		return nil
	}
	ev, err := events.Decode(m.Data)
	if err != nil {
		t.Fatalf("bad anomaly in the stream: %v", err)
	}
	an, _ := events.As[*events.Anomaly](ev)
	return an
}
