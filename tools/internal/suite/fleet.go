package suite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The fleet figure: FleetClients resuming clients (the restart figure's
// client) on FleetNodes gateways of a broker of their own, then the node
// holding FleetVictim of them killed with SIGKILL while messages flow.
// Measured: the ramp (accept rate, time until all are subscribed), memory
// per connection of the gateways and of the broker, and after the kill
// the time until every client of the killed node is subscribed again on
// a survivor, the survivors' peak accept rate and largest pool against
// their cap, and the messages lost of those accepted.
//
// One process here may hold at most 20,000 open files: the gateways, the
// client workers and the broker each stay below that, before and after
// the kill.

// kindBroker is the suite-server kind of the fleet's own broker (a
// JetStream nats-server in its own process, so that its memory is
// measured apart from the suite's).
const kindBroker = "broker"

// ErrFleet wraps a failure of the fleet figure.
var ErrFleet = errors.New("suite: fleet")

// Fleet is the result of the fleet figure.
type Fleet struct {
	Nodes    int `json:"nodes"`
	Clients  int `json:"clients"`
	Channels int `json:"channels"`
	Cap      int `json:"cap_per_node"` // WSHEAL_GATEWAY_MAX_CONNS of each node

	RampS            float64 `json:"ramp_s"` // first dial to every client subscribed
	AcceptMeanPerS   float64 `json:"accept_mean_per_s"`
	AcceptPeakPerS   float64 `json:"accept_peak_per_s"`
	GatewayKiBPerCon float64 `json:"gateway_kib_per_conn"` // summed over the gateways
	BrokerKiBPerConn float64 `json:"broker_kib_per_conn"`

	KilledConns      int     `json:"killed_node_connections"`
	ResumedFirstMS   float64 `json:"resumed_first_ms"` // kill to a killed node's client subscribed again
	ResumedHalfMS    float64 `json:"resumed_half_ms"`
	ResumedAllMS     float64 `json:"resumed_all_ms"`
	PeakAcceptPerS   float64 `json:"survivors_peak_accept_per_s"`
	MaxSurvivorConns int     `json:"max_survivor_connections"`

	Accepted    int    `json:"accepted"`
	Delivered   uint64 `json:"delivered"`
	Lost        uint64 `json:"lost"`
	Duplicated  uint64 `json:"duplicated"`
	Unrecovered uint64 `json:"unrecovered"` // resumes answered "not recovered"

	Met   bool   `json:"met"`
	Error string `json:"error,omitempty"`
}

// fleet runs the fleet figure once.
func (r *runner) fleet(ctx context.Context) *Fleet {
	p := r.p
	f := &Fleet{Nodes: p.FleetNodes, Clients: p.FleetClients, Channels: p.FleetChannels, Cap: p.FleetCap}
	if err := r.runFleet(ctx, f); err != nil {
		f.Error = err.Error()
		r.logf("fleet: %v", err)
	}
	f.Met = f.Error == "" && f.ResumedAllMS > 0 && f.ResumedAllMS <= 3000 && f.Lost == 0 &&
		f.Duplicated == 0 && f.MaxSurvivorConns <= f.Cap
	return f
}

func (r *runner) runFleet(ctx context.Context, f *Fleet) error {
	p := r.p
	broker, err := startServer(ctx, r.opts.Exec, nil, kindBroker)
	if err != nil {
		return err
	}
	defer broker.kill()
	var nodes []*serverProc
	defer func() {
		for _, n := range nodes {
			n.kill()
		}
	}()
	for range p.FleetNodes {
		r.nodes++
		// Pings every 25 s with a 10 s deadline (Centrifugo's defaults):
		// at the default 5 s and 100,000 clients on two cores, the pings
		// alone are 20,000 frames a second each way.
		env := append(r.gatewayEnvAt(fmt.Sprintf("suite-%d", r.nodes), broker.ready.NATS),
			"WSHEAL_GATEWAY_MAX_CONNS="+strconv.Itoa(p.FleetCap),
			"WSHEAL_GATEWAY_PING_INTERVAL=25s", "WSHEAL_GATEWAY_PONG_DEADLINE=10s")
		n, err := startServer(ctx, r.opts.Exec, env, ProtoWsheal)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	nc, err := nats.Connect(broker.ready.NATS, nats.Name("suite-fleet-publisher"))
	if err != nil {
		return fmt.Errorf("%w: broker: %v", ErrFleet, err)
	}
	defer nc.Close()
	pub, err := jetStreamPub(nc)
	if err != nil {
		return err
	}
	time.Sleep(p.Settle)
	gw0, err := rssOf(nodes)
	if err != nil {
		return err
	}
	br0, err := RSS(broker.pid())
	if err != nil {
		return err
	}

	// The ramp: every client dialled at FleetDialRate, node 0 receiving
	// FleetVictim of them and the others an equal share of the rest.
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.ready.WS
	}
	r.logf("fleet: %d clients on %d channels over %d gateways (%d on the node to be killed)",
		p.FleetClients, p.FleetChannels, p.FleetNodes, p.FleetVictim)
	ramp := newAcceptSampler(nodes)
	ramp.logf = r.logf
	sctx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go func() { defer close(samplerDone); ramp.run(sctx, 250*time.Millisecond, nil) }()
	t0 := time.Now()
	fleet, err := r.openFleet(ctx, urls)
	stopSampler()
	<-samplerDone
	if err != nil {
		return fmt.Errorf("%w (connections closed by cause: %s)", err, closeCauses(nodes))
	}
	defer fleet.ws.stop()
	f.RampS = time.Since(t0).Seconds()
	f.AcceptMeanPerS = float64(p.FleetClients) / f.RampS
	f.AcceptPeakPerS = ramp.peak
	time.Sleep(p.Settle)
	gw1, err := rssOf(nodes)
	if err != nil {
		return err
	}
	br1, err := RSS(broker.pid())
	if err != nil {
		return err
	}
	f.GatewayKiBPerCon = float64(gw1-gw0) / 1024 / float64(p.FleetClients)
	f.BrokerKiBPerConn = float64(br1-br0) / 1024 / float64(p.FleetClients)
	r.logf("fleet: all %d subscribed %.1f s after the first dial (mean %.0f/s, peak %.0f/s; connections closed by cause: %s); gateways %.2f KiB/conn, broker %.3f KiB/conn",
		p.FleetClients, f.RampS, f.AcceptMeanPerS, f.AcceptPeakPerS, closeCauses(nodes), f.GatewayKiBPerCon, f.BrokerKiBPerConn)

	channels := make([]string, p.FleetChannels)
	for i := range channels {
		channels[i] = "fl-" + strconv.Itoa(i)
	}
	pctx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.run(pctx, channels, p.FleetRate) }()
	defer func() { stopPub(); <-pubDone }()
	if r.opts.ProfileDir != "" { // a node holding its clients, messages flowing
		r.profile(ctx, nodes[1], "fleet-steady", p.FleetKillAfter)()
	} else {
		time.Sleep(p.FleetKillAfter) // messages flow to every client
	}

	victim, survivors := nodes[0], nodes[1:]
	killed, err := sumMetric([]*serverProc{victim}, "wsheal_gateway_connections")
	if err != nil {
		return err
	}
	f.KilledConns = int(killed)
	after := newAcceptSampler(survivors)
	if err := after.sample(); err != nil {
		return err
	}
	stopProfile := func() {}
	if r.opts.ProfileDir != "" { // a survivor's resumes, and the broker under them
		a := r.profile(ctx, survivors[0], "fleet-survivor", 10*time.Second)
		b := r.profile(ctx, broker, "fleet-broker", 10*time.Second)
		stopProfile = func() { a(); b() }
	}
	kill := time.Now()
	victim.kill()
	nodes = survivors // killed already
	r.logf("fleet: killed the node holding %d clients", f.KilledConns)
	sctx, stopSampler = context.WithCancel(ctx)
	samplerDone = make(chan struct{})
	go func() { defer close(samplerDone); after.run(sctx, 100*time.Millisecond, &f.MaxSurvivorConns) }()
	_, ok := fleet.resumed(ctx, kill, f.KilledConns, time.Minute, func(format string, args ...any) { r.logf("fleet: "+format, args...) })
	stopSampler()
	<-samplerDone
	after.pools(&f.MaxSurvivorConns) // a quick resume falls between two samples
	stopProfile()
	f.PeakAcceptPerS = after.peak
	if !ok {
		return fmt.Errorf("%w: the killed node's %d clients not all subscribed again within a minute (%s)", ErrFleet, f.KilledConns, fleet.errors(ctx))
	}
	first, half, all, resumed, err := fleet.backTimes(ctx, kill)
	if err != nil {
		return err
	}
	f.ResumedFirstMS, f.ResumedHalfMS, f.ResumedAllMS = float64(first.Milliseconds()), float64(half.Milliseconds()), float64(all.Milliseconds())
	time.Sleep(p.FleetAfter)
	stopPub()
	<-pubDone
	sum, err := fleet.settle(ctx, pub.accepted, 10*time.Second)
	if err != nil {
		return err
	}
	f.Accepted = pub.total()
	f.Delivered, f.Lost, f.Duplicated, f.Unrecovered = sum.Delivered, sum.Lost, sum.Dup, sum.Unrecovered
	r.logf("fleet: clients: %s", fleet.errors(ctx))
	r.logf("fleet: %d clients subscribed again (first %.0f ms, half %.0f ms, all %.0f ms after the kill); survivors' peak accept %.0f/s, largest pool %d (cap %d); accepted %d, delivered %d, lost %d, duplicated %d, not recovered %d",
		resumed, f.ResumedFirstMS, f.ResumedHalfMS, f.ResumedAllMS, f.PeakAcceptPerS, f.MaxSurvivorConns, f.Cap,
		f.Accepted, f.Delivered, f.Lost, f.Duplicated, f.Unrecovered)
	return nil
}

// jetStreamPub is a restartPub publishing to wsheal channels through
// JetStream on nc (an accepted message is one JetStream acknowledged).
func jetStreamPub(nc *nats.Conn) (*restartPub, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("suite: jetstream: %v", err)
	}
	return &restartPub{accepted: map[string][]uint64{}, close: func() {},
		send: func(ctx context.Context, channel string, data []byte) error {
			_, err := js.Publish(ctx, subject(channel), data)
			return err
		}}, nil
}

// openFleet opens the figure's clients over FleetWorkers workers, each
// from a fresh address; FleetVictim clients, spread evenly over the
// workers (as the clients of a node are spread over the internet), start
// on node 0 and the others on the other nodes in turn.
func (r *runner) openFleet(ctx context.Context, urls []string) (*restartWorkers, error) {
	p := r.p
	return r.openResuming(ctx, resumingFleet{kind: ProtoWsheal, urls: urls, srcs: r.freshSources(p.FleetWorkers),
		n: p.FleetClients, prefix: "fl-", channels: p.FleetChannels, dialRate: p.FleetDialRate,
		dialMS: 10000, // pkg/client's dial timeout
		home:   func(g int) int { return fleetHome(g, p.FleetClients, p.FleetVictim, len(urls)) }})
}

// fleetHome is the first node of client g of n: exactly victims of them,
// evenly spread, on node 0, the others on nodes 1 to nodes-1 in turn.
func fleetHome(g, n, victims, nodes int) int {
	before := g * victims / n // victims among clients 0 to g-1
	if (g+1)*victims/n > before {
		return 0
	}
	return 1 + (g-before)%(nodes-1)
}

// acceptSampler follows the nodes' accepted-connections counter: its
// peak rate between samples, and the largest pool a node held.
type acceptSampler struct {
	nodes  []*serverProc
	lastT  time.Time
	last   float64
	peak   float64
	primed bool
	// logf, if set, receives the count every 5 s.
	logf    func(format string, args ...any)
	started time.Time
	logged  time.Duration
}

func newAcceptSampler(nodes []*serverProc) *acceptSampler { return &acceptSampler{nodes: nodes} }

// sample reads the counter once, updating the peak rate.
func (s *acceptSampler) sample() error {
	opened, err := sumMetric(s.nodes, "wsheal_gateway_connections_opened_total")
	if err != nil {
		return err
	}
	now := time.Now()
	if s.primed && now.After(s.lastT) {
		s.peak = max(s.peak, (opened-s.last)/now.Sub(s.lastT).Seconds())
	} else {
		s.started = now
	}
	s.lastT, s.last, s.primed = now, opened, true
	if since := now.Sub(s.started); s.logf != nil && since >= s.logged+5*time.Second {
		s.logged = since.Truncate(5 * time.Second)
		s.logf("fleet: %.0f connections accepted after %.0f s", opened, since.Seconds())
	}
	return nil
}

// run samples every interval until ctx ends; with maxPool set, it also
// keeps the largest connection count of a single node.
func (s *acceptSampler) run(ctx context.Context, every time.Duration, maxPool *int) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = s.sample()
		if maxPool != nil {
			s.pools(maxPool)
		}
	}
}

// pools raises maxPool to the largest connection count of a node now.
func (s *acceptSampler) pools(maxPool *int) {
	for _, n := range s.nodes {
		if c, err := sumMetric([]*serverProc{n}, "wsheal_gateway_connections"); err == nil {
			*maxPool = max(*maxPool, int(c))
		}
	}
}

// closeCauses sums, over the nodes, the connections closed by cause (the
// count of wsheal_gateway_connection_lifetime_seconds), as "cause n, ...".
func closeCauses(nodes []*serverProc) string {
	const prefix = `wsheal_gateway_connection_lifetime_seconds_count{cause="`
	sums := map[string]float64{}
	client := &http.Client{Timeout: 2 * time.Second}
	for _, n := range nodes {
		resp, err := client.Get(metricsURL(n))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			rest, ok := strings.CutPrefix(sc.Text(), prefix)
			if !ok {
				continue
			}
			cause, v, ok := strings.Cut(rest, `"} `)
			if f, err := strconv.ParseFloat(v, 64); ok && err == nil {
				sums[cause] += f
			}
		}
		resp.Body.Close()
	}
	if len(sums) == 0 {
		return "none"
	}
	var out []string
	for _, c := range slices.Sorted(maps.Keys(sums)) {
		out = append(out, fmt.Sprintf("%s %.0f", c, sums[c]))
	}
	return strings.Join(out, ", ")
}

// errors sums the workers' client errors (restartFleet.errors), one
// clause per worker.
func (rw *restartWorkers) errors(ctx context.Context) string {
	var out []string
	for _, w := range rw.ws {
		rep, err := w.call(ctx, Command{Op: "rserrors"}, 30*time.Second)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		out = append(out, rep.Err)
	}
	return strings.Join(out, "; ")
}
