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

func (c *Client) do(ctx context.Context, node, verb string, cmd events.Command, out any) error {
	if err := events.ValidateToken(node); err != nil {
		return fmt.Errorf("%w: %s on %q: %w", ErrCommand, verb, node, err)
	}
	if err := cmd.Validate(); err != nil {
		return fmt.Errorf("%w: %s on %s: %w", ErrCommand, verb, node, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := events.Request(ctx, c.nc, events.GatewayControlSubject(node, verb), cmd, out); err != nil {
		return fmt.Errorf("%w: %s on %s: %w", ErrCommand, verb, node, err)
	}
	return nil
}

// Status asks a node for its summary.
func (c *Client) Status(ctx context.Context, node string) (events.GatewayStatus, error) {
	var st events.GatewayStatus
	err := c.do(ctx, node, events.VerbStatus, &events.GatewayStatusRequest{}, &st)
	return st, err
}

// Reconnect asks a node to send some clients elsewhere.
func (c *Client) Reconnect(ctx context.Context, node string, cmd events.ReconnectCommand) (events.ReconnectReply, error) {
	var r events.ReconnectReply
	err := c.do(ctx, node, events.VerbReconnect, &cmd, &r)
	return r, err
}

// Resize changes a node's limits.
func (c *Client) Resize(ctx context.Context, node string, cmd events.ResizeCommand) (events.Settings, error) {
	var s events.Settings
	err := c.do(ctx, node, events.VerbResize, &cmd, &s)
	return s, err
}

// Drain stops a node accepting and moves its clients away.
func (c *Client) Drain(ctx context.Context, node string, cmd events.DrainCommand) (events.DrainReply, error) {
	var r events.DrainReply
	err := c.do(ctx, node, events.VerbDrain, &cmd, &r)
	return r, err
}

// Undrain makes a node accept again.
func (c *Client) Undrain(ctx context.Context, node string, cmd events.UndrainCommand) error {
	return c.do(ctx, node, events.VerbUndrain, &cmd, nil)
}

// Move asks from to send count clients to node to, paced over over: one
// wave of a rebalance.
func (c *Client) Move(ctx context.Context, id, from, to string, count int, over time.Duration) (int, error) {
	r, err := c.Reconnect(ctx, from, events.ReconnectCommand{
		ID: id, Select: events.SelectAll, Count: count, Target: to, OverMS: over.Milliseconds(),
	})
	return r.Selected, err
}
