package healer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/healer/executor/devsup"
	"github.com/wsheal/wsheal/services/healer/executor/docker"
	"github.com/wsheal/wsheal/services/healer/executor/gateway"
	"github.com/wsheal/wsheal/services/healer/executor/kubernetes"
	"github.com/wsheal/wsheal/services/healer/executor/webhook"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/policy"
	recordstore "github.com/wsheal/wsheal/services/healer/record"
	"github.com/wsheal/wsheal/services/healer/remedy"
	"github.com/wsheal/wsheal/services/healer/state"
)

// Service is one healer replica.
type Service struct {
	cfg      Config
	log      zerolog.Logger
	policies *policy.Set

	// now is the clock of the engine's gates (default time.Now).
	now func() time.Time

	// set by Run
	js     jetstream.JetStream
	store  *state.Store
	record *recordstore.Store
	engine *remedy.Engine

	metrics *metrics
	nc      atomic.Pointer[nats.Conn]
	live    atomic.Pointer[remedy.Engine] // the engine, once it runs
}

// New checks the config and loads the policies; it does not connect.
func New(cfg Config, log zerolog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Instance == "" {
		cfg.Instance = service.Instance()
	}
	if err := events.ValidateToken(cfg.Instance); err != nil {
		return nil, fmt.Errorf("%w: %s_INSTANCE: %w", ErrConfig, EnvPrefix, err)
	}
	set, err := policy.Load(cfg.Policies)
	if err != nil {
		return nil, fmt.Errorf("%w: %s_POLICIES: %w", ErrConfig, EnvPrefix, err)
	}
	log = log.With().Str("service", events.ServiceHealer).Str("instance", cfg.Instance).Logger()
	s := &Service{cfg: cfg, log: log, policies: set}
	s.metrics = newMetrics(s)
	return s, nil
}

// SetClock replaces the clock of the healer's gates (backoff, flapping,
// maximum age, budget, restore hold) before Run; tests move it instead of
// sleeping.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// EffectivePolicies returns the policies of the file at path (built-in when
// empty) as YAML with every default filled in.
func EffectivePolicies(path string) ([]byte, error) {
	set, err := policy.Load(path)
	if err != nil {
		return nil, err
	}
	return set.Encode(), nil
}

// Run connects, ensures the contract and heals until ctx ends; a clean
// stop returns nil.
func (s *Service) Run(ctx context.Context) error {
	if _, err := service.ListenHTTP(ctx, s.cfg.Listen, EnvPrefix+"_LISTEN", s.cfg.HTTP, s.ops().Handler(s.log), s.log); err != nil {
		return err
	}
	nc, err := service.Connect(s.cfg.NATS, events.ServiceName(events.ServiceHealer)+"-"+s.cfg.Instance, s.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	s.nc.Store(nc)
	js, err := service.EnsureContract(ctx, nc, s.cfg.Replicas, s.cfg.NATS.Ensure, s.log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	return s.serve(ctx, nc, js)
}

func (s *Service) serve(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	store, err := state.Open(ctx, js)
	if err != nil {
		return err
	}
	rec, err := recordstore.Open(ctx, js)
	if err != nil {
		return err
	}
	s.js, s.store, s.record = js, store, rec
	em := events.NewEmitter(nc, js, events.Source(events.ServiceHealer, s.cfg.Instance))
	view := fleet.New(fleet.Config{Hosts: s.cfg.FleetHosts, Forget: s.cfg.NodeForget, Now: s.now}, s.log)
	gws := gateway.New(nc, s.cfg.CommandTimeout)
	kube, err := s.kubeRestarter(gws)
	if err != nil {
		return err
	}
	s.engine = remedy.New(s.engineConfig(), remedy.Deps{
		JS: js, Emitter: em, Fleet: view, Store: store, Policies: s.policies,
		Gateways: gws,
		Restart: &restarter{mode: s.cfg.Restart, dev: devsup.New(nc, s.cfg.CommandTimeout),
			docker: docker.New(s.cfg.DockerSocket, s.cfg.DockerLabel), grace: s.cfg.DockerGrace, kube: kube},
		Webhooks: webhook.New(s.cfg.WebhookTimeout),
		Scale: &scaler{mode: s.cfg.Restart, dev: devsup.New(nc, s.cfg.CommandTimeout),
			docker: docker.New(s.cfg.DockerSocket, s.cfg.DockerLabel), grace: s.cfg.DockerGrace},
		Record:  rec,
		Observe: s.metrics.observe,
	}, s.log)
	s.live.Store(s.engine)
	svc, err := s.control(nc)
	if err != nil {
		return err
	}
	defer func() { _ = svc.Stop() }()

	g, _ := service.NewGroup(ctx, s.log)
	g.Go("fleet", func(ctx context.Context) error { return view.Run(ctx, nc, js) })
	g.Go("remedy", s.engine.Run)
	g.Go("heartbeat", func(ctx context.Context) error {
		service.Heartbeat(ctx, em, events.ServiceHeartbeat{Service: events.ServiceHealer, Instance: s.cfg.Instance},
			s.cfg.Heartbeat, s.stateWord, s.log)
		return nil
	})
	s.log.Info().Str("policies", s.policies.Source).Int("count", len(s.policies.Policies)).Msg("healer running")
	if err := g.Wait(); err != nil {
		return fmt.Errorf("healer: %w", err)
	}
	return nil
}

// kubeRestarter is the Kubernetes executor when RESTART=kubernetes (nil
// otherwise): its drains go through gws.
func (s *Service) kubeRestarter(gws *gateway.Client) (*kubernetes.Restarter, error) {
	if s.cfg.Restart != "kubernetes" {
		return nil, nil
	}
	k := s.cfg.Kube
	kc := kubernetes.Config{Kubeconfig: k.Kubeconfig, Namespace: k.Namespace, Selector: k.Selector, NodeLabel: k.NodeLabel,
		EvictFor: k.EvictFor, DeleteFallback: k.DeleteFallback, Wait: k.Wait, Poll: s.cfg.Poll}
	rc, err := kubernetes.RESTConfig(kc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s_KUBE_*: %w", ErrConfig, EnvPrefix, err)
	}
	pods, err := kubernetes.New(rc, kc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s_KUBE_*: %w", ErrConfig, EnvPrefix, err)
	}
	return &kubernetes.Restarter{Pods: pods, Drain: gws, Over: s.cfg.DrainOver, HungGrace: k.HungGrace}, nil
}

// engineConfig is the engine's part of the config with the clock.
func (s *Service) engineConfig() remedy.Config {
	c := s.cfg.Config
	c.Now = s.now
	return c
}

// stateWord is the heartbeat's state: active, paused or dry-run.
func (s *Service) stateWord() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sw, err := s.engine.Switches(ctx)
	switch {
	case err != nil:
		return "unknown"
	case sw.Paused:
		return "paused"
	case sw.DryRun:
		return "dry-run"
	}
	return "active"
}

// ErrRestartOff is returned when restarts are turned off.
var ErrRestartOff = errors.New("healer: restarts are off (WSHEAL_HEALER_RESTART=off)")

// restarter picks the way to restart a node: the dev supervisor under
// `wsheal dev`, the Docker engine in a compose deployment, the pod's
// eviction on Kubernetes.
type restarter struct {
	mode   string
	dev    *devsup.Client
	docker *docker.Client
	grace  time.Duration
	kube   *kubernetes.Restarter // RESTART=kubernetes
}

// Restart restarts node's process. In auto mode the dev supervisor is
// asked first and the Docker engine used when no supervisor answers.
func (r *restarter) Restart(ctx context.Context, id, node string, since time.Time) (string, error) {
	switch r.mode {
	case "off":
		return "", ErrRestartOff
	case "dev":
		return r.viaDev(ctx, id, node)
	case "docker":
		return r.viaDocker(ctx, node, since)
	case "kubernetes":
		return r.kube.Restart(ctx, id, node, since)
	}
	how, err := r.viaDev(ctx, id, node)
	if err == nil || !errors.Is(err, events.ErrNoResponders) {
		return how, err
	}
	if _, statErr := os.Stat(r.docker.Socket()); statErr != nil {
		return "", fmt.Errorf("no dev supervisor answers and no Docker engine at %s: %w", r.docker.Socket(), err)
	}
	return r.viaDocker(ctx, node, since)
}

func (r *restarter) viaDev(ctx context.Context, id, node string) (string, error) {
	p, err := r.dev.Restart(ctx, id, node)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("dev supervisor, pid %d", p.PID), nil
}

func (r *restarter) viaDocker(ctx context.Context, node string, since time.Time) (string, error) {
	c, err := r.docker.RestartNode(ctx, node, since, r.grace)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("docker container %s started %s", c.Name, c.Started.Format(time.RFC3339Nano)), nil
}
