package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/redact"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/gateway/auth"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/edge"
	"github.com/wsheal/wsheal/services/gateway/fleet"
	"github.com/wsheal/wsheal/services/gateway/pool"
	"github.com/wsheal/wsheal/services/gateway/session"
)

// Service is one gateway node.
type Service struct {
	cfg        Config
	log        zerolog.Logger
	derivedURL bool
	verifier   *auth.Verifier
	started    time.Time
	peers      *edge.Peers
	limits     *edge.Limits
	origins    *edge.Origins
	sockets    *edge.Listener

	nc      *nats.Conn
	js      jetstream.JetStream
	emitter *events.Emitter
	hub     *channel.Hub
	// stream is the channel stream as the last health snapshot read it.
	stream   atomic.Pointer[channel.StreamStats]
	pool     *pool.Pool
	registry *fleet.Registry
	desired  jetstream.KeyValue
	commands jetstream.KeyValue
	control  *service.Controls
	metrics  *metrics
	notes    *notables

	ln     net.Listener
	srv    *http.Server
	ready  chan struct{}
	killed atomic.Bool
	kill   context.CancelFunc
	life   context.Context
	url    atomic.Pointer[string]

	drainMu sync.Mutex
	drain   *drainRun // the drain in progress, if any
	hbSeq   atomic.Uint64
}

// New checks the configuration and prepares a node; Run starts it.
func New(cfg Config, log zerolog.Logger) (*Service, error) {
	derived := cfg.PublicURL == ""
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	redact.Register(cfg.JWTSecret) // never in a log line or an event
	s := &Service{cfg: cfg, derivedURL: derived, ready: make(chan struct{}),
		log: log.With().Str("component", "gateway").Str("node", cfg.Node).Logger()}
	if cfg.Auth == "jwt" {
		s.verifier = auth.NewVerifier(cfg.JWTSecret, auth.WithAudience(cfg.JWTAudience),
			auth.WithIssuer(cfg.JWTIssuer), auth.AllowNoExpiry(cfg.JWTAllowNoExp))
	}
	s.peers, _ = edge.NewPeers(cfg.TrustedProxies) // checked by Validate
	s.origins = edge.NewOrigins(cfg.AllowedOrigins)
	s.limits = edge.NewLimits(edge.LimitConfig{MaxConns: cfg.MaxConnsPerIP, AcceptRate: cfg.AcceptRatePerIP,
		AcceptBurst: cfg.AcceptBurstPerIP, AuthFailures: cfg.AuthFailuresPerIP})
	s.url.Store(&cfg.PublicURL)
	return s, nil
}

// Ready is closed once the node serves WebSocket and control requests.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// URL is the public WebSocket URL (known once Ready).
func (s *Service) URL() string { return *s.url.Load() }

// InternalURL is the base http(s) URL the monitor probes (known once Ready).
func (s *Service) InternalURL() string {
	if s.cfg.InternalURL != "" {
		return s.cfg.InternalURL
	}
	return internalURL(s.Addr(), s.cfg.TLSCert != "")
}

// Addr is the listening address (known once Ready).
func (s *Service) Addr() string { return s.ln.Addr().String() }

// Node is the node id.
func (s *Service) Node() string { return s.cfg.Node }

// Run connects to NATS, serves until ctx ends, then drains the clients to
// other nodes (paced, bounded by DRAIN_TIMEOUT), announces
// LifecycleStopping and returns nil.
func (s *Service) Run(ctx context.Context) error {
	s.started = time.Now().UTC()
	if err := s.connect(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for NATS: a clean stop
		}
		return err
	}
	defer s.nc.Close()
	runCtx, kill := context.WithCancel(context.Background())
	s.kill, s.life = kill, runCtx
	defer kill()
	if err := s.build(runCtx); err != nil {
		return err
	}
	if err := s.listen(); err != nil {
		return err
	}
	if err := s.startControl(); err != nil {
		_ = s.ln.Close()
		return err
	}
	g, loops := service.NewGroup(runCtx, s.log)
	s.spawn(g)
	s.lifecycle(runCtx, events.LifecycleStarted, "", 0, 0)
	close(s.ready)
	s.log.Info().Str("url", s.URL()).Str("listen", s.Addr()).Msg("gateway serving")

	select {
	case <-ctx.Done():
	case <-loops.Done(): // Kill, or a loop failed
	}
	if !s.killed.Load() {
		s.stop(runCtx)
	}
	kill()
	if err := g.Wait(); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

func (s *Service) connect(ctx context.Context) error {
	nc, err := service.Connect(s.cfg.NATS, events.ServiceName(events.ServiceGateway)+"-"+s.cfg.Node, s.log)
	if err != nil {
		return err
	}
	opt := events.EnsureOptions{Replicas: s.cfg.Replicas}
	if s.cfg.Channels != (events.ChannelLimits{}) {
		opt.Channels = &s.cfg.Channels
	}
	js, err := service.EnsureContractWith(ctx, nc, s.cfg.NATS.Ensure, opt, s.log)
	if err != nil {
		nc.Close()
		return err
	}
	s.nc, s.js = nc, js
	return nil
}

// build wires the parts that need NATS.
func (s *Service) build(ctx context.Context) error {
	s.emitter = events.NewEmitter(s.nc, s.js, events.Source(events.ServiceGateway, s.cfg.Node))
	s.notes = newNotables(s.cfg, s.emitter, s.log)
	var err error
	if s.registry, err = fleet.Open(ctx, s.js, s.cfg.FleetHosts, s.log); err != nil {
		return err
	}
	if s.desired, err = s.js.KeyValue(ctx, events.BucketDesired); err != nil {
		return fmt.Errorf("gateway: bucket %s: %w", events.BucketDesired, err)
	}
	if s.commands, err = s.js.KeyValue(ctx, events.BucketCommands); err != nil {
		return fmt.Errorf("gateway: bucket %s: %w", events.BucketCommands, err)
	}
	s.hub = channel.NewHub(s.nc, s.js, s.cfg.Config, s.log)
	if _, err := s.hub.StreamStats(ctx); err != nil { // the epoch of the hello frames
		return fmt.Errorf("gateway: channel stream: %w", err)
	}
	s.metrics = newMetrics(s.log)
	sess := session.New(session.Config{Node: s.cfg.Node, MaxMessage: s.cfg.Limits.MaxMessage, MaxSubs: s.cfg.MaxSubs},
		timedHub{s.hub, s.metrics}, func() time.Duration { return s.pool.PingInterval() }, s.metrics.protocolError, s.log)
	s.pool = pool.New(s.cfg.Limits, timedConns{sess, s.metrics}, s.notes.conn, s.log)
	s.setMemoryLimit()
	s.pool.OnRTT = s.metrics.observeRTT
	s.metrics.register(s)
	s.metrics.registerDataPlane(s)
	s.loadDesired(ctx)
	return nil
}

func (s *Service) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen %s: %w", s.cfg.Listen, err)
	}
	s.sockets = edge.NewListener(ln, s.maxSockets, s.cfg.SocketsPerIP, s.peers)
	s.ln = s.sockets
	if s.derivedURL {
		u := publicURL(ln.Addr().String(), s.cfg.TLSCert != "")
		s.url.Store(&u)
	}
	s.srv = s.cfg.HTTP.Server(s.routes(), s.cfg.HandshakeTimeout)
	return nil
}

// maxSockets is the cap on accepted sockets: MAX_SOCKETS, or the
// connection cap in force plus room for HTTP requests.
func (s *Service) maxSockets() int {
	if s.cfg.MaxSockets > 0 {
		return s.cfg.MaxSockets
	}
	return s.pool.Capacity() + 1024
}

// setMemoryLimit lowers the Go runtime's soft memory limit to the node's
// budget (never raises one set by GOMEMLIMIT or another service of the
// process).
func (s *Service) setMemoryLimit() {
	limit := int64(s.cfg.MemoryLimit)
	if limit > 0 && limit < debug.SetMemoryLimit(-1) {
		debug.SetMemoryLimit(limit)
	}
}

// spawn starts the node's loops; a loop that fails (or panics) stops the
// node, which drains its clients as on a clean stop.
func (s *Service) spawn(g *service.Group) {
	for name, f := range map[string]func(context.Context){
		"pool":      s.pool.Run,
		"limits":    s.limits.Run,
		"heartbeat": s.heartbeatLoop,
		"health":    s.healthLoop,
		"notables":  s.notes.run,
		"http":      s.serve,
	} {
		g.Go(name, func(ctx context.Context) error { f(ctx); return nil })
	}
	g.Go("fleet", func(ctx context.Context) error {
		if err := s.registry.Watch(ctx); err != nil {
			s.log.Error().Err(err).Msg("fleet watch ended")
		}
		return nil
	})
}

func (s *Service) serve(ctx context.Context) {
	var err error
	if s.cfg.TLSCert != "" {
		err = s.srv.ServeTLS(s.ln, s.cfg.TLSCert, s.cfg.TLSKey)
	} else {
		err = s.srv.Serve(s.ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil && !s.killed.Load() {
		s.log.Error().Err(err).Msg("http server ended")
	}
}

// stop is the clean stop: paced drain within DRAIN_TIMEOUT, then stopping.
func (s *Service) stop(ctx context.Context) {
	s.log.Info().Dur("drain_timeout", s.cfg.DrainTimeout).Msg("stopping: draining clients")
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()
	over := s.cfg.DrainTimeout * 8 / 10
	if run, err := s.startDrain(dctx, "", over, "shutdown"); err == nil {
		select {
		case <-run.done:
		case <-dctx.Done():
		}
	}
	for _, c := range s.pool.Conns(nil) { // what the deadline left behind
		c.Close(1001, events.CauseDrained, "node stopping")
	}
	s.lifecycle(ctx, events.LifecycleStopping, "shutdown", s.pool.Len(), 0)
	if s.control != nil {
		_ = s.control.Stop()
	}
	sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
	defer scancel()
	_ = s.srv.Shutdown(sctx)
	_ = s.registry.Delete(sctx, s.cfg.Node)
	s.hub.Close()
	_ = s.nc.Flush()
}

// Kill stops the node abruptly, as a crash would: the listener and every
// TCP connection are dropped without close frames, heartbeats stop, no
// stopping event is sent. Run then returns. Call it once Ready is closed.
func (s *Service) Kill() {
	select {
	case <-s.ready:
	default:
		return // not serving yet: nothing to crash
	}
	if !s.killed.CompareAndSwap(false, true) {
		return
	}
	_ = s.ln.Close()
	s.pool.Kill()
	if s.control != nil {
		_ = s.control.Stop()
	}
	s.hub.Close()
	s.nc.Close()
	if s.kill != nil {
		s.kill()
	}
}
