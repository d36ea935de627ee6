package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// AddReplica starts one gateway container more, a clone of a running
// replica whose node is among like (the healthy nodes): same image
// reference, configuration, networks and service aliases, a host name of
// its own (a new node) and compose's next number. A replica started
// since that runs no node of like is taken as the one an earlier try of
// the same attempt started (fresh false), so a replayed attempt does not
// add a second container.
func (c *Client) AddReplica(ctx context.Context, like []string, since time.Time) (r Replica, fresh bool, err error) {
	all, err := c.Replicas(ctx)
	if err != nil {
		return Replica{}, false, err
	}
	var from *Replica
	for i, x := range all {
		switch {
		case !since.IsZero() && x.Started.After(since) && !slices.Contains(like, x.Node):
			return x, false, nil
		case from == nil && x.Running && !x.Paused && slices.Contains(like, x.Node):
			from = &all[i]
		}
	}
	if from == nil {
		return Replica{}, false, fmt.Errorf("%w carrying label %s runs a healthy node (%v): nothing to clone; start one by hand",
			ErrNotFound, c.label, like)
	}
	r, err = c.Clone(ctx, *from, "", all)
	if err != nil {
		return Replica{}, false, fmt.Errorf("clone %s: %w", from.Name, err)
	}
	return r, true, nil
}

// RemoveReplica stops the container running node, with grace for the
// gateway to close what is left of its clients, and removes it. found
// is false when no container runs the node (removed already).
func (c *Client) RemoveReplica(ctx context.Context, node string, grace time.Duration) (r Replica, found bool, err error) {
	all, err := c.Replicas(ctx)
	if err != nil {
		return Replica{}, false, err
	}
	i := slices.IndexFunc(all, func(x Replica) bool { return x.Node == node })
	if i < 0 {
		return Replica{}, false, nil
	}
	r = all[i]
	if err := c.Stop(ctx, r.ID, grace); err != nil && !errors.Is(err, ErrNotFound) {
		return r, true, fmt.Errorf("stop %s: %w", r.Name, err)
	}
	if err := c.Remove(ctx, r.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return r, true, fmt.Errorf("remove %s: %w", r.Name, err)
	}
	return r, true, nil
}
