// Package gateway sends the healer's commands to gateway nodes over NATS
// request-reply (the verbs of events.GatewayControlGroup). Every command
// carries an id derived from the anomaly, the action and the attempt, so a
// command repeated after a crash is done once by the node.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrCommand wraps every failed gateway command.
var ErrCommand = errors.New("gateway: command")

// Client talks to gateway nodes.
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
}

// New returns a client whose requests time out after timeout.
func New(nc *nats.Conn, timeout time.Duration) *Client {
	return &Client{nc: nc, timeout: timeout}
}

// call validates cmd before it leaves, then sends it to node under the
// client's timeout.
func call[Req, Rep any, P interface {
	*Req
	events.Command
}](ctx context.Context, c *Client, ep events.Endpoint[Req, Rep], node string, cmd Req) (Rep, error) {
	var zero Rep
	if err := events.ValidateToken(node); err != nil {
		return zero, fmt.Errorf("%w: %s on %q: %w", ErrCommand, ep.Verb, node, err)
	}
	if err := P(&cmd).Validate(); err != nil {
		return zero, fmt.Errorf("%w: %s on %s: %w", ErrCommand, ep.Verb, node, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rep, err := ep.CallNode(ctx, c.nc, node, cmd)
	if err != nil {
		return zero, fmt.Errorf("%w: %s on %s: %w", ErrCommand, ep.Verb, node, err)
	}
	return rep, nil
}

// Status asks a node for its summary.
func (c *Client) Status(ctx context.Context, node string) (events.GatewayStatus, error) {
	return call(ctx, c, events.CtlGatewayStatus, node, events.GatewayStatusRequest{})
}

// Reconnect asks a node to send some clients elsewhere.
func (c *Client) Reconnect(ctx context.Context, node string, cmd events.ReconnectCommand) (events.ReconnectReply, error) {
	return call(ctx, c, events.CtlGatewayReconnect, node, cmd)
}

// Resize changes a node's limits.
func (c *Client) Resize(ctx context.Context, node string, cmd events.ResizeCommand) (events.Settings, error) {
	return call(ctx, c, events.CtlGatewayResize, node, cmd)
}

// Drain stops a node accepting and moves its clients away.
func (c *Client) Drain(ctx context.Context, node string, cmd events.DrainCommand) (events.DrainReply, error) {
	return call(ctx, c, events.CtlGatewayDrain, node, cmd)
}

// Undrain makes a node accept again.
func (c *Client) Undrain(ctx context.Context, node string, cmd events.UndrainCommand) error {
	_, err := call(ctx, c, events.CtlGatewayUndrain, node, cmd)
	return err
}

// Move asks from to send count clients to node to, paced over over: one
// wave of a rebalance.
func (c *Client) Move(ctx context.Context, id, from, to string, count int, over time.Duration) (int, error) {
	r, err := c.Reconnect(ctx, from, events.ReconnectCommand{
		ID: id, Select: events.SelectAll, Count: count, Target: to, OverMS: over.Milliseconds(),
	})
	return r.Selected, err
}
