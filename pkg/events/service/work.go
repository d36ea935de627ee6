package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrWork wraps a failure to bind or read a work consumer.
var ErrWork = errors.New("service: work consumer")

// Outcome is what a work handler made of one message: Ack, RetryIn or
// Drop.
type Outcome struct {
	retryIn time.Duration
	drop    string
}

// Ack: the message is done; it is acknowledged, and the acknowledgement
// confirmed by the server, so it is not delivered again.
func Ack() Outcome { return Outcome{} }

// RetryIn: deliver the message again after d (at least 10 ms), to this
// replica or another.
func RetryIn(d time.Duration) Outcome { return Outcome{retryIn: max(d, 10*time.Millisecond)} }

// Drop: the message can never be handled (undecodable, invalid); it is
// terminated, never delivered again, and reason is logged.
func Drop(reason string) Outcome {
	if reason == "" {
		reason = "dropped"
	}
	return Outcome{drop: reason}
}

// WorkHandler handles one message. ctx ends when the consumer stops; a
// message whose handler returns after that is handed back (whatever the
// outcome) and delivered again at once, to another replica or to this one
// when it runs again.
type WorkHandler func(ctx context.Context, msg jetstream.Msg) Outcome

// Work is a durable work consumer shared by the replicas of a service:
// each message goes to one replica, is handled once its outcome is
// durable, and comes back when the replica handling it stops (at once)
// or goes silent (after AckWait).
type Work struct {
	Stream, Durable, Filter, Description string
	// AckWait is how long a silent replica holds a message before it is
	// delivered to another. A message being handled is kept alive with
	// InProgress every AckWait/3, however long its handler runs.
	AckWait time.Duration
	// MaxInFlight bounds the messages handled at once by this replica (1:
	// one after another, in the order they come).
	MaxInFlight int
	// MaxPending bounds the consumer's unacknowledged messages, across
	// replicas: those being handled and those waiting for a RetryIn. Zero
	// means MaxInFlight. Above MaxInFlight, a message waiting to be
	// retried does not hold back the ones behind it.
	MaxPending int
	// Replay is how far back a consumer created now starts; an existing
	// consumer keeps its position.
	Replay time.Duration
}

// Run binds the consumer, creating it on first use (or retuning an
// existing one to AckWait and MaxPending), and handles messages with h,
// at most MaxInFlight at once, until ctx ends; then it waits for the
// handlers in flight, hands their messages back, and returns nil.
func (w Work) Run(ctx context.Context, js jetstream.JetStream, h WorkHandler, log zerolog.Logger) error {
	log = log.With().Str("component", "work").Str("durable", w.Durable).Logger()
	c, err := w.bind(ctx, js, log)
	if err != nil {
		return err
	}
	n := max(w.MaxInFlight, 1)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	// A message is handed back only once this replica has stopped pulling
	// and the server knows it (stopped is closed): handed back before, the
	// server could give it straight back to this replica's last pull
	// request, and then nobody would have it until AckWait.
	stopped := make(chan struct{})
	handBack := func(msg jetstream.Msg) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-stopped
			_ = msg.Nak()
		}()
	}
	cc, err := c.Consume(func(msg jetstream.Msg) {
		if ctx.Err() != nil {
			handBack(msg) // stopping: handed back to the replicas
			return
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			handBack(msg)
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.handle(ctx, msg, h, stopped, log)
		}()
	}, jetstream.PullMaxMessages(n), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("%w: %s: consume: %w", ErrWork, w.Durable, err)
	}
	<-ctx.Done()
	// Drained, not just stopped: the server has processed the end of this
	// replica's pull requests (a handed-back message cannot come back to
	// them), and a message it sent before that still reaches the callback
	// above, which hands it back, rather than being dropped and held until
	// AckWait.
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(drainWait):
		log.Warn().Dur("after", drainWait).Msg("consumer not drained; messages handed back may wait for AckWait")
	}
	close(stopped)
	wg.Wait()
	return nil
}

// drainWait bounds how long a stopping replica waits for its consumer to
// drain (a round trip to the server) before handing its messages back.
const drainWait = 5 * time.Second

// handle runs h on one message, kept alive meanwhile, and settles it.
// h runs inside a consumer span ("process <durable>") whose parent is the
// trace context the message carries (see events.StartConsume): what h
// publishes or requests with ctx joins the trace of what it handles.
func (w Work) handle(ctx context.Context, msg jetstream.Msg, h WorkHandler, stopped <-chan struct{}, log zerolog.Logger) {
	stop := w.keepAlive(ctx, msg)
	ctx, end := events.StartConsume(ctx, "process "+w.Durable, nats.Header(msg.Headers()),
		events.Attr{Key: "messaging.destination.name", Value: msg.Subject()},
		events.Attr{Key: "messaging.consumer.group.name", Value: w.Durable})
	out := h(ctx, msg)
	var spanErr error
	if out.drop != "" {
		spanErr = errors.New(out.drop)
	}
	end(spanErr)
	stop()
	switch {
	case ctx.Err() != nil:
		// Stopping: the outcome may be that of an interrupted handler; the
		// message is handed back (and comes back after AckWait if the
		// connection is already gone), once the replica stopped pulling.
		<-stopped
		_ = msg.Nak()
	case out.drop != "":
		log.Warn().Str("subject", msg.Subject()).Str("reason", out.drop).Msg("message dropped")
		_ = msg.Term()
	case out.retryIn > 0:
		_ = msg.NakWithDelay(out.retryIn)
	default:
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn().Err(err).Str("subject", msg.Subject()).Msg("ack lost; the message comes back and must be seen as done")
		}
	}
}

// keepAlive tells the server the message is still being worked on, until
// the returned func is called.
func (w Work) keepAlive(ctx context.Context, msg jetstream.Msg) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(w.AckWait/3, 50*time.Millisecond))
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
	return func() { cancel(); <-done }
}

// bind returns the durable consumer, created on first use.
func (w Work) bind(ctx context.Context, js jetstream.JetStream, log zerolog.Logger) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, w.Stream, w.Durable)
	if err == nil {
		return w.retune(ctx, js, c, log), nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("%w: %s: %w", ErrWork, w.Durable, err)
	}
	start := time.Now().Add(-w.Replay)
	c, err = js.CreateConsumer(ctx, w.Stream, jetstream.ConsumerConfig{
		Durable:       w.Durable,
		Description:   w.Description,
		FilterSubject: w.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: w.maxPending(),
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &start,
	})
	if err != nil {
		// Another replica may have created it first.
		if c2, err2 := js.Consumer(ctx, w.Stream, w.Durable); err2 == nil {
			return c2, nil
		}
		return nil, fmt.Errorf("%w: create %s: %w", ErrWork, w.Durable, err)
	}
	return c, nil
}

// maxPending is the consumer's bound on unacknowledged messages.
func (w Work) maxPending() int {
	if w.MaxPending > 0 {
		return max(w.MaxPending, w.MaxInFlight)
	}
	return max(w.MaxInFlight, 1)
}

// retune applies this replica's AckWait and pending bound to an existing
// consumer; its start position is kept.
func (w Work) retune(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, log zerolog.Logger) jetstream.Consumer {
	cfg := c.CachedInfo().Config
	if cfg.AckWait == w.AckWait && cfg.MaxAckPending == w.maxPending() {
		return c
	}
	cfg.AckWait, cfg.MaxAckPending = w.AckWait, w.maxPending()
	c2, err := js.UpdateConsumer(ctx, w.Stream, cfg)
	if err != nil {
		log.Warn().Err(err).Msg("consumer settings not updated; the existing ones apply")
		return c
	}
	return c2
}
