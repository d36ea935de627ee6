package remedy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
)

// ErrUnsupported is wrapped by an executor that cannot carry out an
// action in this deployment (a scale under wsheal dev or on Kubernetes).
// The healer does not retry it: it escalates at once, saying so.
var ErrUnsupported = errors.New("not supported by this executor")

// Scaler adds and removes gateway nodes. A call repeated with the same id
// (a replica resuming the attempt) does its work once.
type Scaler interface {
	// Add starts one gateway more, made like one of the nodes in like
	// (healthy nodes of the fleet), and returns its node id and how it
	// was started. A node started since the attempt began is taken as
	// the one it asked for.
	Add(ctx context.Context, id string, like []string, since time.Time) (node, how string, err error)
	// Remove stops the process of a drained node and removes it; a node
	// already gone is no error.
	Remove(ctx context.Context, id, node string) (string, error)
}

// scale carries out a scale step: +1 adds a node, -1 drains the node the
// attempt chose (Case.Removing) at a pace, waits until it holds no
// connection, then removes it.
func (e *Engine) scale(ctx context.Context, d *decision, s policy.Step, id string, since time.Time) (string, error) {
	if e.Scale == nil {
		return "", fmt.Errorf("scale: %w: no scaler configured", ErrUnsupported)
	}
	if s.Scale > 0 {
		var like []string
		for _, n := range e.Fleet.Snapshot(e.now()) {
			if n.Accepting() {
				like = append(like, n.ID)
			}
		}
		node, how, err := e.Scale.Add(ctx, id, like, since)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("added node %s (%s)", node, how), nil
	}
	node := d.c.Removing
	if node == "" {
		return "", errors.New("scale-in: no node was chosen when the attempt began")
	}
	r, err := e.Gateways.Drain(ctx, node, events.DrainCommand{ID: id, OverMS: e.cfg.DrainOver.Milliseconds(), Reason: d.an.Kind})
	if err != nil && !errors.Is(err, events.ErrNoResponders) { // no responder: gone already, after a resumed attempt
		return "", fmt.Errorf("drain %s: %w", node, err)
	}
	d.moved += r.Connections
	// How long the drain took, for the detail: measured on the monotonic
	// clock (a figure for the reader, not a decision).
	began := time.Now()
	if err == nil {
		if left, err := e.drained(ctx, node, since); err != nil {
			return "", fmt.Errorf("%s did not drain (%d connections left): %w", node, left, err)
		}
	}
	how, err := e.Scale.Remove(ctx, id, node)
	if err != nil {
		return "", fmt.Errorf("remove %s: %w", node, err)
	}
	return fmt.Sprintf("removed node %s: drained %d connections in %s, then %s", node, r.Connections,
		time.Since(began).Round(100*time.Millisecond), how), nil
}

// drained polls the fleet view until node reports no connection in a
// heartbeat heard after since, or is silent; the connections left when
// ctx ends.
func (e *Engine) drained(ctx context.Context, node string, since time.Time) (int, error) {
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	for {
		n, known := e.Fleet.Get(node, e.now())
		if ok, _ := nodeHolds(policy.VerifyDrained, n, known, since); ok {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return n.Connections, ctx.Err()
		case <-t.C:
		}
	}
}

// scaled is the post-condition of a scale: after +1 a node the attempt
// did not know when it began (Case.Before) heartbeats healthy and
// accepting; after -1 the removed node is silent or gone, and every other
// node is healthy.
func scaled(s policy.Step, nodes []fleet.Node, before map[string]string, removing string, since time.Time) (bool, string) {
	if s.Scale > 0 {
		for _, n := range nodes {
			if _, known := before[n.ID]; !known && n.Accepting() && n.LastSeen.After(since) {
				return true, ""
			}
		}
		return false, "no new node heartbeats healthy and accepting yet"
	}
	for _, n := range nodes {
		switch {
		case n.ID == removing && n.Healthy:
			return false, removing + " still heartbeats"
		case n.ID != removing && !n.Healthy:
			return false, "node " + n.ID + " is not healthy"
		}
	}
	return true, ""
}

// beginScale records what a scale's verification and a resumed attempt
// need: every node known now (the new one is the one not among them) and,
// for a scale-in, the node it removes.
func (e *Engine) beginScale(d *decision, step policy.Step) error {
	d.c.Before, d.c.Removing = map[string]string{}, ""
	for _, n := range e.Fleet.Snapshot(e.now()) {
		d.c.Before[n.ID] = n.Identity()
	}
	if step.Scale > 0 {
		return nil
	}
	n, ok := gate.ScaleInNode(d.snap)
	if !ok {
		return errors.New("scale-in: no accepting node under no lock to remove")
	}
	d.c.Removing = n.ID
	return nil
}

// scaleWhy is the requested event's detail of a scale: what, by which
// policy, and why (the anomaly's own words), naming the node a scale-in
// removes.
func scaleWhy(d *decision, step policy.Step) string {
	what := "add a gateway node"
	if step.Scale < 0 {
		what = fmt.Sprintf("remove gateway node %s (the least loaded, by a paced drain)", d.c.Removing)
	}
	return fmt.Sprintf("%s by policy %s: %s", what, d.pol.Name, d.an.Summary)
}
