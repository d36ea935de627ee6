package suite

import (
	"context"
	"fmt"
)

// publisher sends the suite's load to one server, by channel name.
type publisher interface {
	// publish sends data to channel; an error means it was not sent.
	publish(channel string, data []byte) error
	// settle waits until the server has taken every publish and returns
	// how many it refused (those are not owed to the clients).
	settle(ctx context.Context) (uint64, error)
	close()
}

// natsPublisher publishes on a channel's NATS subject (wsheal, the gws
// and NATS references).
type natsPublisher struct {
	*fanPublisher
	done func()
}

func (p natsPublisher) publish(channel string, data []byte) error {
	return p.fanPublisher.publish(subject(channel), data)
}

func (p natsPublisher) close() { p.done() }

// publisherOf returns a publisher into srv, a server of kind. stored:
// into wsheal, publish with JetStream acknowledgements (the fan-out
// figures; see fanPublisher).
func (r *runner) publisherOf(srv *serverProc, kind string, stored bool) (publisher, error) {
	switch kind {
	case ProtoFloor:
		return dialFloor(srv.ready.Publish)
	case ProtoCentrifugo:
		return newCentrifugoPublisher(srv.ready.Publish, r.apiKey), nil
	}
	nc, done, err := r.publisherFor(srv)
	if err != nil {
		return nil, err
	}
	fp, err := newFanPublisher(nc, stored && kind == ProtoWsheal)
	if err != nil {
		done()
		return nil, fmt.Errorf("suite: publisher: %w", err)
	}
	return natsPublisher{fp, done}, nil
}

// clientProto is the protocol a worker speaks to a server of kind.
func clientProto(kind string) string {
	if kind == ProtoFloor {
		return ProtoGws
	}
	return kind
}

// without is xs less x.
func without(xs []string, x string) []string {
	var out []string
	for _, s := range xs {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}
