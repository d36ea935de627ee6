// Package remedy is the healer's decision loop: it takes anomalies from
// the shared durable consumer, picks the policy's next action, passes it
// through the safety checks, carries it out, verifies its post-condition
// and resolves, retries or escalates. Every decision is a Remediation
// event; a message is acknowledged only once its decision is durable.
package remedy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/executor/webhook"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

// ErrConsumer wraps a failure to bind the anomalies consumer.
var ErrConsumer = errors.New("remedy: consumer")

// Gateways sends commands to gateway nodes.
type Gateways interface {
	Reconnect(ctx context.Context, node string, cmd events.ReconnectCommand) (events.ReconnectReply, error)
	Resize(ctx context.Context, node string, cmd events.ResizeCommand) (events.Settings, error)
	Drain(ctx context.Context, node string, cmd events.DrainCommand) (events.DrainReply, error)
	Undrain(ctx context.Context, node string, cmd events.UndrainCommand) error
	Move(ctx context.Context, id, from, to string, count int, over time.Duration) (int, error)
}

// Restarter restarts a node's process; since is the attempt's start, so a
// restart already done for the attempt is not done twice.
type Restarter interface {
	Restart(ctx context.Context, id, node string, since time.Time) (string, error)
}

// Webhooks calls runbooks.
type Webhooks interface {
	Post(ctx context.Context, url string, c webhook.Call) error
}

// Config tunes the engine.
type Config struct {
	Instance    string
	Durable     string        // name of the shared consumer
	AckWait     time.Duration // redelivery after a silent replica
	MaxInFlight int
	Replay      time.Duration // how far back a new consumer starts
	Backoff     safety.Backoff
	Budget      safety.Budget // shared by every replica
	BlastShare  float64
	PanicShare  float64
	RetryCap    int
	FlapHeals   int
	FlapWindow  time.Duration
	DryRun      bool          // default until an operator sets the switch
	Poll        time.Duration // verification polling
	Wait        time.Duration // re-evaluation while paused or blocked
	DrainOver   time.Duration
	MaxAge      time.Duration // an anomaly open longer is escalated and dropped
	IncidentTTL time.Duration // finished incidents are forgotten after this
	WarmUp      time.Duration // hear the fleet this long before deciding
	// Now is the clock of every gate (backoff, flapping, age, budget,
	// restore hold); default time.Now. Tests pass a fake one.
	Now func() time.Time
}

// Deps are the engine's collaborators.
type Deps struct {
	JS       jetstream.JetStream
	Emitter  *events.Emitter
	Fleet    *fleet.View
	Store    *state.Store
	Policies *policy.Set
	Gateways Gateways
	Restart  Restarter
	Webhooks Webhooks
}

// Engine decides and acts.
type Engine struct {
	cfg Config
	Deps
	log zerolog.Logger

	mu       sync.Mutex
	inflight map[string]bool
	targets  map[string]*sync.Mutex
}

// New returns an engine.
func New(cfg Config, d Deps, log zerolog.Logger) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{cfg: cfg, Deps: d, log: log.With().Str("component", "remedy").Logger(),
		inflight: map[string]bool{}, targets: map[string]*sync.Mutex{}}
}

// now reads the engine's clock.
func (e *Engine) now() time.Time { return e.cfg.Now() }

// Switches reads the shared switches, the configured default applying
// until an operator sets them.
func (e *Engine) Switches(ctx context.Context) (state.Switches, error) {
	return e.Store.Switches(ctx, e.DefaultSwitches())
}

// DefaultSwitches are the switches before any operator command.
func (e *Engine) DefaultSwitches() state.Switches { return state.Switches{DryRun: e.cfg.DryRun} }

// InFlight lists the anomalies this instance is handling now.
func (e *Engine) InFlight() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.inflight))
	for id := range e.inflight {
		out = append(out, id)
	}
	return out
}

// consumer binds the shared durable consumer, creating it on first use.
func (e *Engine) consumer(ctx context.Context) (jetstream.Consumer, error) {
	c, err := e.JS.Consumer(ctx, events.StreamAnomalies, e.cfg.Durable)
	if err == nil {
		return e.retune(ctx, c)
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("%w: %w", ErrConsumer, err)
	}
	start := time.Now().Add(-e.cfg.Replay)
	c, err = e.JS.CreateConsumer(ctx, events.StreamAnomalies, jetstream.ConsumerConfig{
		Durable:       e.cfg.Durable,
		Description:   "wsheal healer: every anomaly handled once across replicas",
		FilterSubject: events.AnomaliesAll,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       e.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: e.cfg.MaxInFlight,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &start,
	})
	if err != nil {
		// Another replica may have created it first.
		if c2, err2 := e.JS.Consumer(ctx, events.StreamAnomalies, e.cfg.Durable); err2 == nil {
			return c2, nil
		}
		return nil, fmt.Errorf("%w: create %s: %w", ErrConsumer, e.cfg.Durable, err)
	}
	return c, nil
}

// retune applies this replica's AckWait and in-flight bound to an existing
// consumer; its start position is kept.
func (e *Engine) retune(ctx context.Context, c jetstream.Consumer) (jetstream.Consumer, error) {
	cfg := c.CachedInfo().Config
	if cfg.AckWait == e.cfg.AckWait && cfg.MaxAckPending == e.cfg.MaxInFlight {
		return c, nil
	}
	cfg.AckWait, cfg.MaxAckPending = e.cfg.AckWait, e.cfg.MaxInFlight
	c2, err := e.JS.UpdateConsumer(ctx, events.StreamAnomalies, cfg)
	if err != nil {
		e.log.Warn().Err(err).Msg("consumer settings not updated; the existing ones apply")
		return c, nil
	}
	return c2, nil
}

// Run handles anomalies until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	// Decide only once the fleet view has heard every live node: an empty
	// view would read as "no target" or "fleet unknown".
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(e.cfg.WarmUp):
	}
	c, err := e.consumer(ctx)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, e.cfg.MaxInFlight)
	var wg sync.WaitGroup
	cc, err := c.Consume(func(msg jetstream.Msg) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			e.handle(ctx, msg)
		}()
	}, jetstream.PullMaxMessages(e.cfg.MaxInFlight), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("%w: consume: %w", ErrConsumer, err)
	}
	e.log.Info().Str("durable", e.cfg.Durable).Msg("handling anomalies")
	e.prune(ctx)
	cc.Stop()
	wg.Wait()
	return nil
}

// prune forgets finished incidents past their TTL, every tenth of it,
// until ctx ends.
func (e *Engine) prune(ctx context.Context) {
	t := time.NewTicker(max(e.cfg.IncidentTTL/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := e.Store.PruneIncidents(ctx, e.now().Add(-e.cfg.IncidentTTL))
			if err != nil && ctx.Err() == nil {
				e.log.Warn().Err(err).Msg("incidents not pruned")
			} else if n > 0 {
				e.log.Debug().Int("pruned", n).Msg("finished incidents forgotten")
			}
		}
	}
}

// lock serializes the handling of one target within this instance.
func (e *Engine) lock(target, id string) func() {
	e.mu.Lock()
	m, ok := e.targets[target]
	if !ok {
		m = &sync.Mutex{}
		e.targets[target] = m
	}
	e.mu.Unlock()
	m.Lock()
	e.mu.Lock()
	e.inflight[id] = true
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		delete(e.inflight, id)
		e.mu.Unlock()
		m.Unlock()
	}
}

// keepAlive tells the server the message is still being worked on.
func (e *Engine) keepAlive(ctx context.Context, msg jetstream.Msg) func() {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(max(e.cfg.AckWait/3, 50*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return cancel
}

// DecodeAnomaly reads an anomaly event off the stream; anything else, or
// an anomaly whose target cannot be a subject token, is an error.
func DecodeAnomaly(b []byte) (*events.Anomaly, error) {
	ev, err := events.Decode(b)
	if err != nil {
		return nil, err
	}
	an, ok := events.As[*events.Anomaly](ev)
	if !ok {
		return nil, fmt.Errorf("remedy: %s is not an anomaly", ev.Type)
	}
	if err := events.ValidateToken(an.Target); err != nil {
		return nil, fmt.Errorf("remedy: anomaly target: %w", err)
	}
	if events.ValidateToken(an.Kind) != nil || len(an.ID) > 512 {
		return nil, fmt.Errorf("remedy: anomaly kind or id unusable")
	}
	for _, n := range an.Nodes {
		if events.ValidateToken(n) != nil {
			return nil, fmt.Errorf("remedy: anomaly node %q is not a node id", n)
		}
	}
	return an, nil
}

func (e *Engine) handle(ctx context.Context, msg jetstream.Msg) {
	an, err := DecodeAnomaly(msg.Data())
	if err != nil {
		e.log.Warn().Err(err).Str("subject", msg.Subject()).Msg("anomaly dropped")
		_ = msg.Term()
		return
	}
	unlock := e.lock(an.Target, an.ID)
	defer unlock()
	stop := e.keepAlive(ctx, msg)
	defer stop()
	log := e.log.With().Str("anomaly", an.ID).Str("state", an.State).Logger()
	var out outcome
	if an.State == events.AnomalyResolved {
		out, err = e.resolved(ctx, an)
	} else {
		out, err = e.open(ctx, an)
	}
	switch {
	case ctx.Err() != nil:
		// Shutting down: the message comes back to a replica after AckWait.
		return
	case err != nil:
		log.Error().Err(err).Msg("decision not recorded; retrying")
		_ = msg.NakWithDelay(e.cfg.Wait)
	case out.retryIn > 0:
		log.Debug().Dur("retry_in", out.retryIn).Msg("waiting")
		_ = msg.NakWithDelay(out.retryIn)
	default:
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn().Err(err).Msg("ack lost; the decision is recorded and will be seen as done")
		}
	}
}

// outcome of one delivery: done, or come back in retryIn.
type outcome struct {
	retryIn time.Duration
}

var done = outcome{}

func later(d time.Duration) outcome { return outcome{retryIn: max(d, 10*time.Millisecond)} }
