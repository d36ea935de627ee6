// Package dev is `wsheal dev`: the whole system on one machine from one
// command. It runs an embedded NATS server with JetStream, then every
// service as its own child process (the wsheal binary re-executed), so a
// gateway can really be killed or stopped and a fault looks as it would in
// production. The supervisor does not restart a dead child by itself; it
// offers a restart over NATS request-reply (wsheal.ctl.dev.restart) for the
// healer, as the Docker engine does in compose.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// Config of a dev run.
type Config struct {
	Bin          string // the wsheal binary to re-execute; default os.Executable
	DataDir      string // default: a new temporary directory, removed at exit
	Host         string // loopback address for every listener
	NATSPort     int
	NATSCluster  int // NATS servers: 1, or 3 for a cluster with replicated JetStream
	Replicas     int // instances of each control-plane service
	Gateways     int
	GatewayPort  int // first gateway port; the others follow
	MonitorPort  int
	DemoClients  int           // 0: no demo load
	DemoRate     float64       // demo publishes per second
	Faults       time.Duration // kill -9 a random gateway this often; 0: never
	Services     []string      // control-plane services to start (those that exist)
	Quiet        bool          // no live event lines, only the banner
	ShutdownWait time.Duration
}

// Supervisor runs the processes of a dev stack.
type Supervisor struct {
	cfg  Config
	out  io.Writer
	log  zerolog.Logger
	nats *natsCluster
	recv *http.Server
	// example serves the wsheal.js example page.
	example *http.Server
	nc      *nats.Conn
	procs   []*proc
	mu      sync.Mutex
	byKey   map[string]*proc
}

// New prepares a supervisor; Run starts it.
func New(cfg Config, out io.Writer, log zerolog.Logger) (*Supervisor, error) {
	if cfg.Bin == "" {
		bin, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("dev: find own binary: %w", err)
		}
		cfg.Bin = bin
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Gateways < 1 || cfg.Gateways > 20 {
		return nil, fmt.Errorf("dev: --gateways %d: want 1..20", cfg.Gateways)
	}
	if cfg.NATSCluster != 1 && cfg.NATSCluster != 3 {
		return nil, fmt.Errorf("dev: --nats-cluster %d: want 1 or 3", cfg.NATSCluster)
	}
	if cfg.Replicas < 1 || cfg.Replicas > 3 {
		return nil, fmt.Errorf("dev: --replicas %d: want 1..3", cfg.Replicas)
	}
	if cfg.ShutdownWait == 0 {
		cfg.ShutdownWait = 5 * time.Second
	}
	return &Supervisor{cfg: cfg, out: out, log: log.With().Str("component", "dev").Logger(), byKey: map[string]*proc{}}, nil
}

// NATSURL is the embedded servers' client URLs, comma-separated (after
// Run started them).
func (s *Supervisor) NATSURL() string { return s.nats.urls() }

// Run starts NATS and every child, prints where to connect and a live
// summary, and stops everything cleanly when ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	cleanup, err := s.prepareDir()
	if err != nil {
		return err
	}
	defer cleanup()
	if err := s.startNATS(ctx); err != nil {
		return err
	}
	defer s.stopNATS()
	if err := s.startReceiver(); err != nil {
		return err
	}
	defer s.stopReceiver()
	if err := s.startExample(); err != nil {
		return err
	}
	defer func() { _ = s.example.Close() }()
	svc, err := s.serveControl()
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop() }()

	for _, sp := range s.specs() {
		p := &proc{spec: sp, log: logPath(s.cfg.DataDir, sp.Name)}
		s.procs = append(s.procs, p)
		s.byKey[sp.Name] = p
		if err := p.start(s.cfg.Bin); err != nil {
			s.stopAll()
			return err
		}
	}
	s.banner()
	g, gctx := service.NewGroup(ctx, s.log)
	if !s.cfg.Quiet {
		g.Go("summary", func(ctx context.Context) error { s.summarize(ctx); return nil })
	}
	if s.cfg.Faults > 0 {
		g.Go("faults", func(ctx context.Context) error { s.injectFaults(ctx); return nil })
	}
	<-gctx.Done() // the stop, or a part that panicked
	fmt.Fprintln(s.out, "\nstopping: demo clients, gateways (paced drain), services, NATS ...")
	s.stopAll()
	return g.Wait()
}

func (s *Supervisor) prepareDir() (func(), error) {
	if s.cfg.DataDir != "" {
		return func() {}, os.MkdirAll(filepath.Join(s.cfg.DataDir, "logs"), 0o755)
	}
	dir, err := os.MkdirTemp("", "wsheal-dev-")
	if err != nil {
		return nil, fmt.Errorf("dev: data dir: %w", err)
	}
	s.cfg.DataDir = dir
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	return func() { _ = os.RemoveAll(dir) }, nil
}

func (s *Supervisor) startNATS(ctx context.Context) error {
	c, err := newNATSCluster(s.cfg.Host, s.cfg.NATSPort, s.cfg.NATSCluster, s.cfg.DataDir)
	if err != nil {
		return err
	}
	if err := c.start(s.log); err != nil {
		c.shutdown()
		return err
	}
	s.nats = c
	nc, err := service.Connect(service.NATS{URL: c.urls()}, "wsheal-dev", s.log)
	if err != nil {
		return err
	}
	s.nc = nc
	ectx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// The channel stream's limits come from WSHEAL_CHANNELS_*, as the
	// gateways it starts read them.
	var limits events.ChannelLimits
	if err := envconfig.Process("WSHEAL", &limits); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	_, err = service.EnsureContractWith(ectx, nc, events.EnsureCreate, events.EnsureOptions{Replicas: c.size(), Channels: &limits}, s.log)
	return err
}

func (s *Supervisor) stopNATS() {
	if s.nc != nil {
		s.nc.Close()
	}
	s.nats.shutdown()
}

// stopAll stops the demo first, then the gateways together (each drains),
// then the control plane.
func (s *Supervisor) stopAll() {
	for _, tier := range [][]string{{"demo"}, {events.ServiceGateway}, {events.ServiceMonitor, events.ServiceHealer, events.ServiceNotifier}} {
		var wg sync.WaitGroup
		for _, p := range s.procs {
			for _, svc := range tier {
				if p.spec.Service == svc {
					wg.Add(1)
					go func() { defer wg.Done(); p.stop(s.cfg.ShutdownWait) }()
				}
			}
		}
		wg.Wait()
	}
}

func (s *Supervisor) gatewayURL(i int) (listen, ws, httpURL string) {
	port := s.cfg.GatewayPort + i
	listen = s.cfg.Host + ":" + strconv.Itoa(port)
	return listen, "ws://" + listen + "/ws", "http://" + listen
}

func (s *Supervisor) specs() []spec {
	common := func(prefix string) []string {
		return []string{prefix + "_NATS_URL=" + s.nats.urls(), prefix + "_NATS_REPLICAS=" + strconv.Itoa(s.nats.size()),
			prefix + "_LOG_FORMAT=json", prefix + "_LOG_LEVEL=info"}
	}
	var out []spec
	var wsURLs []string
	for i := range s.cfg.Gateways {
		node := fmt.Sprintf("gw-%d", i+1)
		listen, ws, _ := s.gatewayURL(i)
		wsURLs = append(wsURLs, ws)
		env := append(common("WSHEAL_GATEWAY"),
			"WSHEAL_GATEWAY_NODE="+node,
			"WSHEAL_GATEWAY_LISTEN="+listen,
			"WSHEAL_GATEWAY_PUBLIC_URL="+ws,
			"WSHEAL_GATEWAY_AUTH=none",
			"WSHEAL_GATEWAY_DRAIN_TIMEOUT=3s",
			// Open on purpose (the banner says so): any browser origin and
			// no limits per client address, for the demo load and local
			// tools all dialling from this host.
			"WSHEAL_GATEWAY_ALLOWED_ORIGINS=*",
			"WSHEAL_GATEWAY_CORS_ORIGINS=*",
			"WSHEAL_GATEWAY_MAX_CONNS_PER_IP=0",
			"WSHEAL_GATEWAY_ACCEPT_RATE_PER_IP=0",
		)
		out = append(out, spec{Name: node, Service: events.ServiceGateway, Args: []string{"serve", "gateway"}, Env: env, URL: ws})
	}
	for _, svc := range s.cfg.Services {
		for r := 1; r <= s.cfg.Replicas; r++ {
			out = append(out, s.controlSpec(svc, r, common))
		}
	}
	if s.cfg.DemoClients > 0 {
		// The demo load is `wsheal bench` (which runs wsheal-tools)
		// until dev stops it; its progress line shows every 10 s.
		args := []string{"bench", "--clients", strconv.Itoa(s.cfg.DemoClients),
			"--rate", strconv.FormatFloat(s.cfg.DemoRate, 'f', -1, 64), "--duration", "87600h",
			"--channels", "10", "--dial-rate", "100", "--url", strings.Join(wsURLs, ",")}
		out = append(out, spec{Name: "demo", Service: "demo", Args: args, Echo: newThrottle(s.out, "demo     ", 10*time.Second)})
	}
	return out
}

// controlSpec is replica r of a control-plane service: monitor-1, healer-2 ...
func (s *Supervisor) controlSpec(svc string, r int, common func(string) []string) spec {
	prefix := "WSHEAL_" + strings.ToUpper(svc)
	name := fmt.Sprintf("%s-%d", svc, r)
	env := append(common(prefix), prefix+"_INSTANCE="+name)
	url := ""
	switch svc {
	case events.ServiceMonitor:
		listen := s.cfg.Host + ":" + strconv.Itoa(s.cfg.MonitorPort+r-1)
		// The supervisor runs a fixed set of gateways: no node can be
		// removed, so an idle dev fleet is no anomaly.
		env = append(env, prefix+"_LISTEN="+listen, prefix+"_FLEET_UNDERUSED_FOR=0")
		url = "http://" + listen + "/"
	case events.ServiceHealer:
		env = append(env, prefix+"_RESTART=dev", prefix+"_LISTEN="+s.opsListen(healerPortOffset, r))
		url = "http://" + s.opsListen(healerPortOffset, r) + "/metrics"
	case events.ServiceNotifier:
		env = append(env, prefix+"_LISTEN="+s.opsListen(notifierPortOffset, r))
		url = "http://" + s.opsListen(notifierPortOffset, r) + "/metrics"
		if s.recv != nil {
			base := "http://" + s.recv.Addr
			env = append(env, prefix+"_SLACK_URL="+base+"/slack", prefix+"_WEBHOOK_URL="+base+"/webhook",
				prefix+"_WEBHOOK_SECRET=wsheal-dev", prefix+"_PAGERDUTY_ROUTING_KEY=wsheal-dev",
				prefix+"_PAGERDUTY_URL="+base+"/pagerduty", prefix+"_ALERTMANAGER_WEBHOOK_URL="+base+"/alertmanager")
		}
	}
	return spec{Name: name, Service: svc, Args: []string{"serve", svc}, Env: env, URL: url}
}

// The healers' and notifiers' /metrics, /healthz and /readyz listen at
// the monitor port plus these offsets, plus the replica's index (the
// monitors take the monitor port and the next two).
const (
	healerPortOffset   = 5
	notifierPortOffset = 8
)

// opsListen is replica r's operations address at the monitor port plus offset.
func (s *Supervisor) opsListen(offset, r int) string {
	return s.cfg.Host + ":" + strconv.Itoa(s.cfg.MonitorPort+offset+r-1)
}

func (s *Supervisor) proc(name string) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byKey[name]
	if !ok {
		return nil, errors.New("no such process")
	}
	return p, nil
}
