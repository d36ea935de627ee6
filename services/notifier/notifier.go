package notifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/redact"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/notifier/incident"
	"github.com/wsheal/wsheal/services/notifier/outbox"
	"github.com/wsheal/wsheal/services/notifier/pipeline"
	"github.com/wsheal/wsheal/services/notifier/sink"
	"github.com/wsheal/wsheal/services/notifier/sink/alertmanager"
	"github.com/wsheal/wsheal/services/notifier/sink/amwebhook"
	"github.com/wsheal/wsheal/services/notifier/sink/pagerduty"
	"github.com/wsheal/wsheal/services/notifier/sink/slack"
	"github.com/wsheal/wsheal/services/notifier/sink/webhook"
)

// Service is one notifier instance.
type Service struct {
	cfg      Config
	log      zerolog.Logger
	instance string
	started  time.Time

	nc  *nats.Conn
	js  jetstream.JetStream
	eng *incident.Engine
	pub publisher

	metrics *metrics
	live    atomic.Pointer[running] // set once the service runs
}

// running is what scrapes read once Run has built it.
type running struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	eng *incident.Engine
}

// New checks the config and returns a service ready to Run.
func New(cfg Config, log zerolog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Sink URLs and keys are secrets: no log line, event or reply shows them.
	redact.Register(cfg.SlackURL, cfg.WebhookURL, cfg.WebhookSecret, cfg.PagerDutyRoutingKey,
		cfg.AlertmanagerURL, cfg.AMWebhookURL, cfg.AlertmanagerAPIURL)
	inst := cfg.Instance
	if inst == "" {
		inst = service.Instance()
	}
	s := &Service{cfg: cfg, instance: inst,
		log: log.With().Str("service", events.ServiceNotifier).Str("instance", inst).Logger()}
	s.metrics = newMetrics(s)
	return s, nil
}

// Run connects to NATS, ensures the contract and serves until ctx ends;
// it returns nil on a clean stop.
func (s *Service) Run(ctx context.Context) error {
	s.started = time.Now().UTC()
	if _, err := service.ListenHTTP(ctx, s.cfg.Listen, Prefix+"_LISTEN", s.cfg.HTTP, s.ops().Handler(s.log), s.log); err != nil {
		return err
	}
	if s.cfg.AlertmanagerURL != "" {
		s.log.Warn().Msg(Prefix + "_ALERTMANAGER_URL is deprecated: it sets the alertmanager-webhook sink (Alertmanager's webhook payload); " +
			"set " + Prefix + "_ALERTMANAGER_WEBHOOK_URL instead, or " + Prefix + "_ALERTMANAGER_API_URL to push alerts into an Alertmanager")
	}
	nc, err := service.Connect(s.cfg.NATS, events.ServiceName(events.ServiceNotifier)+"-"+s.instance, s.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	s.nc = nc
	if s.js, err = service.EnsureContract(ctx, nc, s.cfg.Replicas, s.cfg.NATS.Ensure, s.log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := s.build(ctx); err != nil {
		return err
	}
	ctl, err := s.control(nc)
	if err != nil {
		return fmt.Errorf("notifier: control: %w", err)
	}
	defer func() { _ = ctl.Stop() }()
	s.live.Store(&running{nc: nc, js: s.js, eng: s.eng})
	s.log.Info().Strs("sinks", s.cfg.Sinks()).Msg("notifier running")
	return s.serve(ctx)
}

func (s *Service) build(ctx context.Context) error {
	store, err := incident.NewStore(ctx, s.js)
	if err != nil {
		return err
	}
	pol, _ := s.cfg.Policy()
	for _, lvl := range pol.Levels {
		for _, name := range lvl.Sinks {
			if !slices.Contains(s.cfg.Sinks(), name) {
				s.log.Warn().Str("sink", name).Msg("escalation names a sink that is not configured; skipped")
			}
		}
	}
	em := events.NewEmitter(s.nc, s.js, events.Source(events.ServiceNotifier, s.instance))
	s.pub = publisher{em: em}
	s.eng = incident.NewEngine(store, outbox.New(s.js), s.pub, incident.Config{
		Rules:  incident.Rules{Policy: pol, Sinks: s.cfg.Sinks(), ReviewDelay: s.cfg.ReviewDelay},
		Window: s.cfg.GroupWindow,
	}, s.log)
	return nil
}

// serve runs the consumers, the outbox workers, the clock and the heartbeat.
func (s *Service) serve(ctx context.Context) error {
	g, _ := service.NewGroup(ctx, s.log)
	for _, w := range s.inputs() {
		g.Go(w.Durable, func(ctx context.Context) error { return w.Run(ctx, s.js, s.handle, s.log) })
	}
	client := &http.Client{Timeout: s.cfg.HTTPTimeout}
	for _, name := range s.cfg.Sinks() {
		w := outbox.NewWorker(s.js, name, s.pipeline(name, client), s.outcome, s.log)
		g.Go(outbox.Durable(name), w.Run)
	}
	g.Go("clock", s.clock)
	g.Go("heartbeat", func(ctx context.Context) error {
		service.Heartbeat(ctx, s.pub.em, events.ServiceHeartbeat{Service: events.ServiceNotifier,
			Instance: s.instance, StartedAt: s.started}, time.Second, func() string { return "active" }, s.log)
		return nil
	})
	return g.Wait()
}

// clock ticks the engine: escalations, repeats, reviews, sweeps; and
// now and then expires old resolved incidents.
func (s *Service) clock(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	var lastExpiry time.Time
	for {
		if err := s.eng.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("tick")
		}
		if s.cfg.Retention > 0 && time.Since(lastExpiry) >= min(time.Hour, s.cfg.Retention) {
			lastExpiry = time.Now()
			if n, err := s.eng.Expire(ctx, lastExpiry.Add(-s.cfg.Retention)); err != nil && ctx.Err() == nil {
				s.log.Warn().Err(err).Msg("expire")
			} else if n > 0 {
				s.log.Info().Int("incidents", n).Msg("expired resolved incidents")
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) pipeline(name string, client *http.Client) *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Sender:  s.sender(name, client),
		Dedup:   s.eng.Store(),
		Limiter: pipeline.NewLimiter(s.cfg.Rate, s.cfg.Burst),
		Retry:   pipeline.Retry{Attempts: s.cfg.RetryAttempts, Initial: s.cfg.RetryInitial, Max: s.cfg.RetryMax},
	}
}

func (s *Service) sender(name string, client *http.Client) sink.Sender {
	switch name {
	case sink.Webhook:
		return webhook.New(s.cfg.WebhookURL, s.cfg.WebhookSecret, client)
	case sink.Slack:
		return slack.New(s.cfg.SlackURL, client)
	case sink.PagerDuty:
		return pagerduty.New(s.cfg.PagerDutyURL, s.cfg.PagerDutyRoutingKey, client)
	case sink.Alertmanager:
		return alertmanager.New(s.cfg.AlertmanagerAPIURL, s.cfg.ExternalURL, s.cfg.AlertmanagerHold, client)
	}
	return amwebhook.New(s.cfg.WebhookFormatURL(), s.cfg.AlertmanagerName, s.cfg.ExternalURL, client)
}

// outcome publishes a delivery outcome and adds it to the timeline.
func (s *Service) outcome(ctx context.Context, m sink.Message, n events.Notification) {
	s.metrics.count(n)
	if err := s.pub.Notification(ctx, n); err != nil && ctx.Err() == nil {
		s.log.Warn().Err(err).Str("incident", n.IncidentID).Msg("notification event not published")
	}
	if err := s.eng.RecordOutcome(ctx, &n, m.ID); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn().Err(err).Str("incident", n.IncidentID).Msg("notification outcome not recorded")
	}
}
