// Package remedy is the healer's decision loop: it takes anomalies from
// the shared durable consumer, passes each delivery through the gates
// (package gate), carries out the verdict or the policy's next action,
// verifies its post-condition and resolves, retries or escalates. Every
// decision is a Remediation event; a message is acknowledged only once its
// decision is durable.
//
// One delivery of an open anomaly is: read its case and a gate.Snapshot
// once (snapshot.go); run the pipeline; apply the verdict in one place
// (open.go: the events, the bucket writes and the negative acknowledgement
// with a delay); save the case. The gates read nothing else and write
// nothing; the engine is the only writer. Before each try of a follow-up
// step the engine reads a fresh snapshot and runs the action gates alone.
// The deliveries come from service.Work, the shared durable work consumer:
// a decision is Ack (durable), RetryIn (waiting, or not recorded) or Drop
// (an event that is no usable anomaly).
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
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/healer/executor/webhook"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/record"
	"github.com/wsheal/wsheal/services/healer/state"
)

// ErrConsumer wraps a failure to bind or read the anomalies consumer.
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
	// Scale adds and removes gateway nodes; nil: a scale is unsupported.
	Scale Scaler
	// Record is the healer's record of what each remedy did; nil: the
	// ladders are tried as written and nothing is recorded.
	Record *record.Store
	// Observe, if set, sees every decision once it is published (metrics).
	Observe func(events.Remediation)
}

// Engine decides and acts.
type Engine struct {
	cfg Config
	Deps
	log   zerolog.Logger
	gates []gate.Gate

	mu       sync.Mutex
	inflight map[string]bool
	targets  map[string]*sync.Mutex

	rebalancing sync.Mutex // one rebalance at a time in this replica
}

// New returns an engine.
func New(cfg Config, d Deps, log zerolog.Logger) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{cfg: cfg, Deps: d, log: log.With().Str("component", "remedy").Logger(),
		gates:    gate.Pipeline(cfg.limits()),
		inflight: map[string]bool{}, targets: map[string]*sync.Mutex{}}
}

// limits are the thresholds of the gates.
func (c Config) limits() gate.Limits {
	return gate.Limits{PanicShare: c.PanicShare, MaxAge: c.MaxAge, FlapHeals: c.FlapHeals, FlapWindow: c.FlapWindow,
		RetryCap: c.RetryCap, BlastShare: c.BlastShare, Wait: c.Wait, Backoff: c.Backoff, Budget: c.Budget, Scale: c.Scale}
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

// Run handles anomalies until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	// Decide only once the fleet view has heard every live node (the
	// registry's entries are in): an empty view would read as "no target"
	// or "fleet unknown".
	select {
	case <-ctx.Done():
		return nil
	case <-e.Fleet.Synced():
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); e.prune(ctx) }()
	defer wg.Wait()
	e.log.Info().Str("durable", e.cfg.Durable).Msg("handling anomalies")
	err := service.Work{
		Stream: events.StreamAnomalies, Durable: e.cfg.Durable, Filter: events.AnomaliesAll,
		Description: "wsheal healer: every anomaly handled once across replicas",
		AckWait:     e.cfg.AckWait, MaxInFlight: e.cfg.MaxInFlight, Replay: e.cfg.Replay,
	}.Run(ctx, e.JS, e.handle, e.log)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConsumer, err)
	}
	return nil
}

// prune forgets finished cases past their TTL, every tenth of it,
// until ctx ends.
func (e *Engine) prune(ctx context.Context) {
	t := time.NewTicker(max(e.cfg.CaseTTL/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := e.Store.PruneCases(ctx, e.now().Add(-e.cfg.CaseTTL))
			if err != nil && ctx.Err() == nil {
				e.log.Warn().Err(err).Msg("cases not pruned")
			} else if n > 0 {
				e.log.Debug().Int("pruned", n).Msg("finished cases forgotten")
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

// handle decides on one delivery; the work consumer acknowledges it,
// delivers it again later, or drops it, as the outcome says.
func (e *Engine) handle(ctx context.Context, msg jetstream.Msg) service.Outcome {
	an, err := DecodeAnomaly(msg.Data())
	if err != nil {
		return service.Drop("anomaly unusable: " + err.Error())
	}
	unlock := e.lock(an.Target, an.ID)
	defer unlock()
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
		return service.RetryIn(e.cfg.Wait)
	case err != nil:
		log.Error().Err(err).Msg("decision not recorded; retrying")
		return service.RetryIn(e.cfg.Wait)
	case out.retryIn > 0:
		log.Debug().Dur("retry_in", out.retryIn).Msg("waiting")
		return service.RetryIn(out.retryIn)
	}
	return service.Ack()
}

// outcome of one delivery: done, or come back in retryIn.
type outcome struct {
	retryIn time.Duration
}

var done = outcome{}

func later(d time.Duration) outcome { return outcome{retryIn: max(d, 10*time.Millisecond)} }
