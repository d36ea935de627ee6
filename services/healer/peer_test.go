package healer_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// peers is a fleet of test gateway nodes: real NATS micro services that
// answer the gateway verbs, publish real heartbeats and write real fleet
// registrations. Their clients are counts: a reconnect or drain moves
// counts to the node the command names (or spreads them over the others),
// as real clients following the hints would.
type peers struct {
	t  *testing.T
	nc *nats.Conn
	kv jetstream.KeyValue
	em *events.Emitter

	mu    sync.Mutex
	nodes map[string]*peer
	order []string
}

// peer is one test gateway node.
type peer struct {
	f  *peers
	id string

	// guarded by f.mu
	conns, capacity int
	maxConns        int
	acceptRate      float64
	draining        bool
	alive           bool
	started         time.Time
	lastBeat        time.Time // when the last heartbeat went out
	boot            string    // the process's id, new at every start
	seen            map[string]bool
	refuse          int // reconnect commands still to refuse (a node busy restarting its pool)
	cmds            []command
	svc             micro.Service
	stop            chan struct{}
}

// command is one command a peer received.
type command struct {
	Verb  string
	ID    string
	Dup   bool // a repeated id, answered without acting again
	Count int
	To    string
	At    time.Time
}

func newPeers(t *testing.T, srv *natstest.Server) *peers {
	nc, js := srv.JetStream()
	kv, err := js.KeyValue(context.Background(), events.BucketFleet)
	if err != nil {
		t.Fatal(err)
	}
	f := &peers{t: t, nc: nc, kv: kv, em: events.NewEmitter(nc, js, events.Source(events.ServiceGateway, "test")), nodes: map[string]*peer{}}
	t.Cleanup(func() {
		f.mu.Lock()
		ids := append([]string(nil), f.order...)
		f.mu.Unlock()
		for _, id := range ids {
			f.kill(id, false)
		}
	})
	return f
}

// add starts a node holding conns clients of capacity.
func (f *peers) add(id string, conns, capacity int) *peer {
	p := &peer{f: f, id: id, conns: conns, capacity: capacity, maxConns: capacity, acceptRate: 100, seen: map[string]bool{}}
	f.mu.Lock()
	f.nodes[id] = p
	f.order = append(f.order, id)
	f.mu.Unlock()
	f.start(id)
	return p
}

// start (re)starts a node's process: control service and heartbeats.
func (f *peers) start(id string) { f.run(id, true) }

// thaw brings the node's old process back (a SIGCONT): the same boot id
// and start time as before it went silent.
func (f *peers) thaw(id string) { f.run(id, false) }

func (f *peers) run(id string, fresh bool) {
	f.mu.Lock()
	p := f.nodes[id]
	if p.alive {
		f.mu.Unlock()
		return
	}
	p.alive, p.stop = true, make(chan struct{})
	if fresh {
		p.started, p.boot, p.draining = time.Now().UTC(), rand.Text(), false
		p.maxConns = p.capacity
	}
	stop := p.stop
	f.mu.Unlock()
	svc, err := micro.AddService(f.nc, micro.Config{Name: events.ServiceName(events.ServiceGateway), Version: "0.0.0"})
	if err != nil {
		f.t.Errorf("peer %s: %v", id, err)
		return
	}
	g := svc.AddGroup(events.GatewayControlGroup(id))
	for verb, h := range map[string]func([]byte) (any, error){
		events.VerbStatus: p.status, events.VerbReconnect: p.reconnect, events.VerbResize: p.resize,
		events.VerbDrain: p.drain, events.VerbUndrain: p.undrain,
	} {
		_ = g.AddEndpoint(verb, micro.HandlerFunc(func(req micro.Request) {
			out, err := h(req.Data())
			if err != nil {
				events.RespondError(req, err)
				return
			}
			events.Respond(req, out)
		}))
	}
	_ = f.nc.Flush() // the endpoints are live before anyone hears of the node
	f.mu.Lock()
	p.svc = svc
	f.mu.Unlock()
	go p.beat(stop)
}

// kill stops a node abruptly; with rehome its clients reconnect to the
// surviving nodes.
func (f *peers) kill(id string, rehome bool) {
	f.mu.Lock()
	p := f.nodes[id]
	if !p.alive {
		f.mu.Unlock()
		return
	}
	p.alive = false
	close(p.stop)
	svc := p.svc
	if rehome {
		f.spread(p, p.conns)
	}
	f.mu.Unlock()
	_ = svc.Stop()
}

// waitSilent returns once the nodes are down and sent their last
// heartbeat more than stale ago: a healer with that staleness window sees
// them silent, as the monitor does before it reports them down.
func (f *peers) waitSilent(t *testing.T, stale time.Duration, ids ...string) {
	t.Helper()
	natstest.Eventually(t, 10*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, id := range ids {
			if p := f.nodes[id]; p.alive || time.Since(p.lastBeat) <= stale+50*time.Millisecond {
				return false
			}
		}
		return true
	}, "%v silent for more than %s", ids, stale)
}

// spread moves n clients of p over the other accepting nodes (f.mu held).
func (f *peers) spread(p *peer, n int) {
	var dst []*peer
	for _, id := range f.order {
		if q := f.nodes[id]; q != p && q.alive && !q.draining {
			dst = append(dst, q)
		}
	}
	if len(dst) == 0 {
		return
	}
	for i := 0; i < n; i++ {
		dst[i%len(dst)].conns++
	}
	p.conns -= n
}

func (p *peer) beat(stop chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var seq uint64
	for {
		p.f.mu.Lock()
		hb := events.Heartbeat{Node: p.id, URL: "ws://127.0.0.1/" + p.id, Seq: seq, Connections: p.conns,
			Capacity: p.maxConns, Draining: p.draining, StartedAt: p.started, IntervalMS: 50, Version: "test", Boot: p.boot}
		p.f.mu.Unlock()
		seq++
		_, _ = p.f.em.Emit(context.Background(), events.HeartbeatSubject(p.id), &hb)
		p.f.mu.Lock()
		p.lastBeat = time.Now()
		p.f.mu.Unlock()
		reg, _ := json.Marshal(map[string]any{"node": p.id, "url": hb.URL, "connections": hb.Connections,
			"capacity": hb.Capacity, "draining": hb.Draining, "started_at": hb.StartedAt, "updated_at": time.Now().UTC()})
		_, _ = p.f.kv.Put(context.Background(), p.id, reg)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// once records a command and reports whether it is new (f.mu held).
func (p *peer) once(verb, id string, c command) bool {
	c.Verb, c.ID, c.At, c.Dup = verb, id, time.Now(), p.seen[id]
	p.cmds = append(p.cmds, c)
	p.seen[id] = true
	return !c.Dup
}

func (p *peer) status(b []byte) (any, error) {
	var req events.GatewayStatusRequest
	if err := events.DecodeCommand(b, &req); err != nil {
		return nil, err
	}
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	return events.GatewayStatus{Node: p.id, Connections: p.conns, Draining: p.draining, StartedAt: p.started,
		Settings: events.Settings{MaxConns: p.maxConns, AcceptRate: p.acceptRate}}, nil
}

func (p *peer) reconnect(b []byte) (any, error) {
	var cmd events.ReconnectCommand
	if err := events.DecodeCommand(b, &cmd); err != nil {
		return nil, err
	}
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	n := cmd.Count
	if cmd.Fraction > 0 {
		n = int(float64(p.conns) * cmd.Fraction)
	}
	if cmd.Select == events.SelectStale || cmd.Select == events.SelectIdle {
		n = min(p.conns, 3)
	}
	n = min(n, p.conns)
	if !p.once(events.VerbReconnect, cmd.ID, command{Count: n, To: cmd.Target}) {
		return events.ReconnectReply{Selected: n}, nil
	}
	if p.refuse > 0 {
		p.refuse--
		return nil, events.Errorf(events.CodeUnavailable, "%s cannot move clients now", p.id)
	}
	if q, ok := p.f.nodes[cmd.Target]; ok && q.alive {
		p.conns -= n
		q.conns += n
	} else {
		p.f.spread(p, n)
	}
	return events.ReconnectReply{Selected: n, OverMS: cmd.OverMS}, nil
}

func (p *peer) resize(b []byte) (any, error) {
	var cmd events.ResizeCommand
	if err := events.DecodeCommand(b, &cmd); err != nil {
		return nil, err
	}
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if p.once(events.VerbResize, cmd.ID, command{}) {
		switch {
		case cmd.Reset:
			p.maxConns, p.acceptRate = p.capacity, 100
		default:
			if cmd.MaxConns != nil {
				p.maxConns = *cmd.MaxConns
			}
			if cmd.AcceptRate != nil {
				p.acceptRate = *cmd.AcceptRate
			}
		}
	}
	return events.Settings{MaxConns: p.maxConns, AcceptRate: p.acceptRate}, nil
}

func (p *peer) drain(b []byte) (any, error) {
	var cmd events.DrainCommand
	if err := events.DecodeCommand(b, &cmd); err != nil {
		return nil, err
	}
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	n := p.conns
	if p.once(events.VerbDrain, cmd.ID, command{Count: n}) {
		p.draining = true
		p.f.spread(p, n)
	}
	return events.DrainReply{Connections: n, OverMS: cmd.OverMS}, nil
}

func (p *peer) undrain(b []byte) (any, error) {
	var cmd events.UndrainCommand
	if err := events.DecodeCommand(b, &cmd); err != nil {
		return nil, err
	}
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	if p.once(events.VerbUndrain, cmd.ID, command{}) {
		p.draining = false
	}
	return struct{}{}, nil
}

// commands returns what node received, of verb if not "".
func (f *peers) commands(id, verb string) []command {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []command
	for _, c := range f.nodes[id].cmds {
		if verb == "" || c.Verb == verb {
			out = append(out, c)
		}
	}
	return out
}

// conns returns every node's client count, in order of addition.
func (f *peers) conns() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, id := range f.order {
		out[id] = f.nodes[id].conns
	}
	return out
}

func (f *peers) settings(id string) (int, float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[id].maxConns, f.nodes[id].acceptRate
}

// alive reports whether a node's process runs.
func (f *peers) alive(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nodes[id].alive
}

// refuseReconnects makes node refuse its next n reconnect commands.
func (f *peers) refuseReconnects(id string, n int) {
	f.mu.Lock()
	f.nodes[id].refuse = n
	f.mu.Unlock()
}
