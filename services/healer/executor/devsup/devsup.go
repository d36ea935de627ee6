// Package devsup restarts a gateway through the `wsheal dev` supervisor's
// restart request (events.CtlDevRestart).
package devsup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrRestart wraps every failed restart request.
var ErrRestart = errors.New("devsup: restart")

// Client sends restart requests to the dev supervisor.
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
}

// New returns a client whose requests time out after timeout.
func New(nc *nats.Conn, timeout time.Duration) *Client {
	return &Client{nc: nc, timeout: timeout}
}

// Restart asks the supervisor to restart node's process; id makes the
// request idempotent.
func (c *Client) Restart(ctx context.Context, id, node string) (events.Process, error) {
	cmd := events.RestartCommand{ID: id, Node: node}
	if err := cmd.Validate(); err != nil {
		return events.Process{}, fmt.Errorf("%w: %w", ErrRestart, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := events.CtlDevRestart.Call(ctx, c.nc, cmd)
	if err != nil {
		return events.Process{}, fmt.Errorf("%w: %s: %w", ErrRestart, node, err)
	}
	return r.Process, nil
}

// Supervises reports whether a dev supervisor answers: under `wsheal dev`
// the gateways are its child processes, never containers to touch.
func (c *Client) Supervises(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := events.CtlDevList.Call(ctx, c.nc, events.Empty{})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, events.ErrNoResponders):
		return false, nil
	}
	return false, fmt.Errorf("devsup: list: %w", err)
}
