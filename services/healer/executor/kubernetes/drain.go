package kubernetes

import (
	"context"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Drainer sends a node the drain command (the healer's gateway client).
type Drainer interface {
	Drain(ctx context.Context, node string, cmd events.DrainCommand) (events.DrainReply, error)
}

// Restarter is the healer's restart on Kubernetes: a paced drain of the
// node (its clients are told to reconnect elsewhere, spread over Over, so
// that no peer gets a storm), then the pod's eviction and the wait for its
// replacement. A node that does not answer the drain (hung, or down) is
// evicted at once: there is no one to move.
type Restarter struct {
	Pods  *Client
	Drain Drainer
	Over  time.Duration
	// HungGrace is the termination grace of a pod whose node did not
	// answer the drain (0: the pod's own).
	HungGrace time.Duration
}

// Restart drains node, evicts its pod and returns what happened; id is the
// attempt's command id, since its start.
func (r *Restarter) Restart(ctx context.Context, id, node string, since time.Time) (string, error) {
	drained, answered := r.drain(ctx, id, node)
	var res Result
	var err error
	if answered || r.HungGrace <= 0 {
		res, err = r.Pods.RestartNode(ctx, node, since)
	} else {
		res, err = r.Pods.RestartHung(ctx, node, since, r.HungGrace)
	}
	if err != nil {
		return drained, err
	}
	return drained + res.String(), nil
}

// drain asks node to drain over r.Over and waits while its clients leave;
// it says what it did, and whether the node answered.
func (r *Restarter) drain(ctx context.Context, id, node string) (string, bool) {
	if r.Drain == nil || r.Over <= 0 {
		return "", true
	}
	reply, err := r.Drain.Drain(ctx, node, events.DrainCommand{ID: id + ".drain", OverMS: r.Over.Milliseconds(), Reason: "restart"})
	if err != nil {
		return "no drain (" + err.Error() + "); ", false
	}
	if reply.Connections > 0 {
		if err := pause(ctx, time.Duration(reply.OverMS)*time.Millisecond); err != nil {
			return "", true
		}
	}
	return fmt.Sprintf("drained %d connections over %d ms; ", reply.Connections, reply.OverMS), true
}
