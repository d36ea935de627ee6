package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/monitor/detect"
	"github.com/wsheal/wsheal/services/monitor/fleet"
	"github.com/wsheal/wsheal/services/monitor/ledger"
)

// ErrRun is wrapped by the errors that stop Run.
var ErrRun = errors.New("monitor: run")

// Service is one monitor replica.
type Service struct {
	cfg      Config
	log      zerolog.Logger
	instance string
	mux      *http.ServeMux
	reg      *prometheus.Registry
	metrics  *metrics

	view      *fleet.View
	live      *detect.Liveness
	panic     *detect.Panic
	nodeDets  []detect.NodeDetector
	storm     *detect.Storm
	imbalance *detect.Imbalance
	flapping  *detect.Flapping
	fleetDeg  *detect.FleetDegraded
	limits    []*detect.Limit    // store_full, consumer_limit
	capacity  []*detect.Capacity // fleet_saturated, fleet_underused

	nc     *nats.Conn
	js     jetstream.JetStream
	ledger *ledger.Ledger

	// Owned by the loop goroutine.
	ops       chan func(context.Context)
	probing   map[string]bool
	held      map[string]detect.Transition // node verdicts held by the fleet correlation
	blind     bool
	lapsed    bool      // most of the fleet missed heartbeats at once since the last fleet round
	heldDirty bool      // held changed since it was last saved
	since     time.Time // when the state was restored
	lastRound time.Time
	lastSave  time.Time
	parts     []Part
	kv        jetstream.KeyValue // BucketMonitor

	heldView atomic.Pointer[[]events.HeldVerdict] // a copy of held for the control verbs

	started    atomic.Bool
	connected  atomic.Bool
	panicking  atomic.Bool
	saving     atomic.Bool
	savingHeld atomic.Bool
	lastTick   atomic.Int64
	addr       atomic.Value
	group      *service.Group // the running parts, set by serve
}

// New builds a monitor from a validated config. Add dashboard handlers
// with Handle before Run.
func New(cfg Config, log zerolog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	instance := cfg.Instance
	if instance == "" {
		instance = service.Instance()
	}
	h := cfg.Hysteresis
	s := &Service{
		cfg:       cfg,
		log:       log.With().Str("component", "monitor").Str("instance", instance).Logger(),
		instance:  instance,
		mux:       http.NewServeMux(),
		reg:       prometheus.NewRegistry(),
		view:      fleet.NewView(cfg.History),
		live:      detect.NewLiveness(cfg.LivenessConfig),
		panic:     detect.NewPanic(cfg.PanicConfig),
		storm:     detect.NewStorm(cfg.StormConfig, h),
		imbalance: detect.NewImbalance(cfg.ImbalanceConfig, h),
		flapping:  detect.NewFlapping(cfg.FlappingConfig),
		fleetDeg:  detect.NewFleetDegraded(cfg.CorrelationConfig),
		limits:    []*detect.Limit{detect.NewStoreFull(cfg.DataPlaneConfig, h), detect.NewConsumerLimit(cfg.DataPlaneConfig, h)},
		capacity:  []*detect.Capacity{detect.NewFleetSaturated(cfg.CapacityConfig, h), detect.NewFleetUnderused(cfg.CapacityConfig, h)},
		nodeDets: []detect.NodeDetector{
			detect.NewRTT(cfg.RTTConfig, h),
			detect.NewStale(cfg.StaleConfig, h),
			detect.NewSlow(cfg.SlowConfig, h),
			detect.NewErrors(cfg.ErrorsConfig, h),
			detect.NewSaturation(cfg.SaturationConfig, h),
			detect.NewDataPlaneErrors(cfg.DataPlaneConfig, h),
			detect.NewNotRecovered(cfg.DataPlaneConfig, h),
		},
		ops:     make(chan func(context.Context), 8192),
		probing: map[string]bool{},
		held:    map[string]detect.Transition{},
	}
	s.metrics = newMetrics(s)
	s.routes()
	return s, nil
}

// Instance is this replica's name.
func (s *Service) Instance() string { return s.instance }

// Addr is the HTTP server's address once Run has bound it ("" before).
func (s *Service) Addr() string {
	a, _ := s.addr.Load().(string)
	return a
}

// Run connects to NATS, ensures the contract, restores the open
// anomalies and serves until ctx ends. It returns nil on a clean stop.
func (s *Service) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: already running", ErrRun)
	}
	nc, err := service.Connect(s.cfg.NATS, events.ServiceName(events.ServiceMonitor)+"-"+s.instance, s.log)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	defer nc.Close()
	s.nc = nc
	if s.js, err = service.EnsureContract(ctx, nc, s.cfg.Replicas, s.cfg.NATS.Ensure, s.log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	em := events.NewEmitter(nc, s.js, events.Source(events.ServiceMonitor, s.instance))
	if err := s.restore(ctx, em); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	return s.serve(ctx, em)
}

// restore loads the open anomalies and the registry.
func (s *Service) restore(ctx context.Context, em *events.Emitter) error {
	kv, err := s.js.KeyValue(ctx, events.BucketMonitor)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", events.BucketMonitor, err)
	}
	s.kv = kv
	s.restoreBaselines(ctx, kv)
	s.ledger = ledger.New(kv, em, s.log)
	s.ledger.Online = s.nc.IsConnected
	open, err := s.ledger.Load(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	s.since = now
	for _, a := range open {
		s.seed(a, now)
	}
	s.restoreHeld(ctx, kv)
	s.bootstrap(ctx, now)
	s.log.Info().Int("open_anomalies", len(open)).Int("nodes", len(s.view.Nodes())).Msg("state restored")
	return nil
}

// serve runs every part until ctx ends.
func (s *Service) serve(ctx context.Context, em *events.Emitter) error {
	subs, err := s.subscribe()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	defer func() {
		for _, sub := range subs {
			_ = sub.Unsubscribe()
		}
	}()
	svc, err := s.control()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	defer func() { _ = svc.Stop() }()
	srv, ln, err := s.listen()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	g, ctx := service.NewGroup(ctx, s.log)
	s.group = g
	if srv != nil {
		g.Go("http", func(context.Context) error {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error().Err(err).Msg("http server stopped")
			}
			return nil
		})
	}
	s.runParts(ctx)
	g.Go("ledger", func(ctx context.Context) error { s.ledger.Run(ctx, s.cfg.Tick); return nil })
	g.Go("ledger watch", func(ctx context.Context) error { s.watchLedger(ctx); return nil })
	g.Go("quarantine watch", func(ctx context.Context) error { s.watchQuarantine(ctx); return nil })
	g.Go("heartbeat", func(ctx context.Context) error {
		hb := events.ServiceHeartbeat{Service: events.ServiceMonitor, Instance: s.instance}
		service.Heartbeat(ctx, em, hb, s.cfg.Beat, s.state, s.log)
		return nil
	})
	s.loop(ctx) // until the stop, or until a part panics
	if srv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		scancel()
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("%w: %w", ErrRun, err)
	}
	s.log.Info().Msg("monitor stopped")
	return nil
}

// goRun runs f in the group: the attached parts, and the background
// writes and probes the loop starts. A panic in f stops the monitor with
// an error.
func (s *Service) goRun(f func()) {
	s.group.Go("background", func(context.Context) error { f(); return nil })
}

// state is the word of the service heartbeat.
func (s *Service) state() string {
	if s.panicking.Load() {
		return "panic"
	}
	return "active"
}

// subscribe listens to every gateway event; handlers only queue work for
// the loop, stamped with the time it was heard.
func (s *Service) subscribe() ([]*nats.Subscription, error) {
	var subs []*nats.Subscription
	for _, subject := range []string{events.HeartbeatsAll, events.HealthAll, events.LifecycleAll, events.ConnEventsAll} {
		sub, err := s.nc.Subscribe(subject, func(m *nats.Msg) {
			heard := time.Now()
			s.post(func(ctx context.Context) { s.onMsg(ctx, m, heard) })
		})
		if err != nil {
			return subs, fmt.Errorf("subscribe %s: %w", subject, err)
		}
		_ = sub.SetPendingLimits(65536, 64<<20)
		subs = append(subs, sub)
	}
	return subs, nil
}

// post queues work for the loop; when the loop is that far behind, the
// sample is dropped and counted.
func (s *Service) post(op func(context.Context)) {
	select {
	case s.ops <- op:
	default:
		s.metrics.dropped.Inc()
	}
}

// loop owns the detectors: it runs queued work and the ticks.
func (s *Service) loop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	s.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case op := <-s.ops:
			op(ctx)
		case <-t.C:
			s.tick(ctx)
		}
	}
}

// listen binds the HTTP server's address unless it is off; serve serves it.
func (s *Service) listen() (*http.Server, net.Listener, error) {
	if s.cfg.Listen == "off" {
		return nil, nil, nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s (%s_LISTEN): %w", s.cfg.Listen, EnvPrefix, err)
	}
	s.addr.Store(ln.Addr().String())
	s.log.Info().Str("addr", ln.Addr().String()).Msg("http listening")
	return s.cfg.HTTP.Server(s.guard(), 5*time.Second), ln, nil
}
