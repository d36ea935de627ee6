package suite

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fanPublisher sends the fan-out load. Into a server that stores its
// channels first (wsheal: every publish lands in the channel stream before
// any delivery) it publishes with JetStream acknowledgements, at most
// maxAcks in flight, so that a publish the stream dropped under the burst
// is counted as not sent instead of as lost by the server; into the
// reference servers, which read core NATS, it publishes plainly.
type fanPublisher struct {
	nc     *nats.Conn
	js     jetstream.JetStream // nil: core NATS
	failed atomic.Uint64
}

// maxAcks bounds the acknowledged publishes in flight.
const maxAcks = 4096

func newFanPublisher(nc *nats.Conn, stored bool) (*fanPublisher, error) {
	p := &fanPublisher{nc: nc}
	if !stored {
		return p, nil
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxAcks),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { p.failed.Add(1) }))
	if err != nil {
		return nil, fmt.Errorf("suite: jetstream: %w", err)
	}
	p.js = js
	return p, nil
}

// publish sends one message (waiting while maxAcks are in flight).
func (p *fanPublisher) publish(subject string, data []byte) error {
	if p.js == nil {
		return p.nc.Publish(subject, data)
	}
	_, err := p.js.PublishAsync(subject, data, jetstream.WithStallWait(30*time.Second))
	return err
}

// settle waits for every acknowledgement (at most a minute) and returns
// how many publishes the stream refused or never acknowledged.
func (p *fanPublisher) settle(ctx context.Context) (uint64, error) {
	if p.js == nil {
		return 0, p.nc.Flush()
	}
	select {
	case <-p.js.PublishAsyncComplete():
		return p.failed.Load(), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(time.Minute):
		return 0, fmt.Errorf("suite: %d fan-out publishes unacknowledged after a minute", p.js.PublishAsyncPending())
	}
}
