package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
)

// gatewayRequest calls an endpoint of one node and turns "nobody
// answered" into advice.
func gatewayRequest[Req, Rep any](ctx context.Context, nc *nats.Conn, node string, ep events.Endpoint[Req, Rep], req Req) (Rep, error) {
	if err := events.ValidateToken(node); err != nil {
		var zero Rep
		return zero, fmt.Errorf("node %q: %w", node, err)
	}
	ctx, cancel := context.WithTimeout(ctx, natsOpts.Timeout)
	defer cancel()
	rep, err := ep.CallNode(ctx, nc, node, req)
	return rep, explain(err, "gateway "+node, ep.Subject(node))
}

// explain rewrites "no responders" into what to do about it.
func explain(err error, who, subject string) error {
	if err == nil {
		return nil
	}
	if isNoResponders(err) {
		return fmt.Errorf("no %s answered on %s: is it running? (wsheal status lists the fleet; nats micro ls lists services)", who, subject)
	}
	return err
}

func isNoResponders(err error) bool {
	for e := err; e != nil; {
		if e == events.ErrNoResponders || e == nats.ErrNoResponders {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

func commandID(id string) string {
	if id != "" {
		return id
	}
	return "cli-" + nuid.Next()
}

func drainCmd() *cobra.Command {
	var (
		id, target string
		over       time.Duration
		wait       bool
	)
	cmd := &cobra.Command{
		Use:     "drain <node>",
		GroupID: "ops",
		Short:   "Stop a gateway accepting and move its clients to other nodes, paced",
		Long: `Drain a gateway: it stops accepting, answers /readyz with 503, and sends its
clients reconnect hints spread over --over so that no other node sees a
storm. Progress is shown until the node is empty (--wait=false returns at once).
The command id makes it idempotent: the same --id twice drains once.`,
		Example: `  wsheal drain gw-2
  wsheal drain gw-2 --over 30s --target gw-3
  nats req wsheal.ctl.gw.gw-2.drain '{"id":"d1","over_ms":10000}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			node := args[0]
			progress := make(chan *nats.Msg, 64)
			sub, err := nc.ChanSubscribe(events.LifecycleSubject(node), progress)
			if err != nil {
				return err
			}
			defer func() { _ = sub.Unsubscribe() }()
			c := events.DrainCommand{ID: commandID(id), OverMS: over.Milliseconds(), Target: target, Reason: "operator"}
			rep, err := gatewayRequest(cmd.Context(), nc, node, events.CtlGatewayDrain, c)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "draining %s: %d connections over %s (command %s)\n", node, rep.Connections, time.Duration(rep.OverMS)*time.Millisecond, c.ID)
			if !wait || rep.Connections == 0 {
				return nil
			}
			deadline := time.After(time.Duration(rep.OverMS)*time.Millisecond + 15*time.Second)
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case <-deadline:
					return fmt.Errorf("%s still had clients after the drain window; see wsheal events --node %s", node, node)
				case m := <-progress:
					ev, err := events.Decode(m.Data)
					if err != nil {
						continue
					}
					if l, ok := events.As[*events.Lifecycle](ev); ok {
						fmt.Fprintf(out, "%s  %s: %d left, %d moved\n", ev.Time.Local().Format("15:04:05"), l.Phase, l.Remaining, l.Moved)
						if l.Phase == events.LifecycleDrained {
							return nil
						}
					}
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "command id (default: a new one)")
	f.StringVar(&target, "target", "", "node to send clients to (default: the coolest)")
	f.DurationVar(&over, "over", 10*time.Second, "spread the reconnect hints over this long")
	f.BoolVar(&wait, "wait", true, "show progress until the node is empty")
	return cmd
}

func undrainCmd() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:     "undrain <node>",
		GroupID: "ops",
		Short:   "Make a drained gateway accept clients again",
		Example: `  wsheal undrain gw-2`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			c := events.UndrainCommand{ID: commandID(id)}
			if _, err := gatewayRequest(cmd.Context(), nc, args[0], events.CtlGatewayUndrain, c); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s accepts clients again\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "command id (default: a new one)")
	return cmd
}

func reconnectCmd() *cobra.Command {
	var c events.ReconnectCommand
	var over time.Duration
	cmd := &cobra.Command{
		Use:     "reconnect <node>",
		GroupID: "ops",
		Short:   "Send some of a gateway's clients elsewhere (stale, idle, a share, or by id)",
		Example: `  wsheal reconnect gw-1 --select stale
  wsheal reconnect gw-1 --select all --fraction 0.25 --over 20s --target gw-3
  wsheal reconnect gw-1 --select ids --ids c1,c2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			c.ID, c.OverMS = commandID(c.ID), over.Milliseconds()
			rep, err := gatewayRequest(cmd.Context(), nc, args[0], events.CtlGatewayReconnect, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d clients selected, hinted over %s\n", args[0], rep.Selected, time.Duration(rep.OverMS)*time.Millisecond)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.ID, "id", "", "command id (default: a new one)")
	f.StringVar(&c.Select, "select", "", "stale, idle, all or ids (required: nothing is selected by default)")
	f.StringSliceVar(&c.IDs, "ids", nil, "connection ids, with --select ids")
	f.IntVar(&c.Count, "count", 0, "at most this many")
	f.Float64Var(&c.Fraction, "fraction", 0, "at most this share (0..1)")
	f.StringVar(&c.Target, "target", "", "node to hint clients to")
	f.DurationVar(&over, "over", 5*time.Second, "spread the hints over this long")
	return cmd
}

func resizeCmd() *cobra.Command {
	var (
		id               string
		maxConns, burst  int
		rate             float64
		ping, pong, idle time.Duration
		reset            bool
	)
	cmd := &cobra.Command{
		Use:     "resize <node>",
		GroupID: "ops",
		Short:   "Change a gateway's limits (kept across its restarts)",
		Example: `  wsheal resize gw-1 --max-conns 5000 --accept-rate 200
  wsheal resize gw-1 --ping-interval 2s --pong-deadline 2s
  wsheal resize gw-1 --reset`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := events.ResizeCommand{ID: commandID(id), Reset: reset}
			fl := cmd.Flags()
			if fl.Changed("max-conns") {
				c.MaxConns = &maxConns
			}
			if fl.Changed("accept-rate") {
				c.AcceptRate = &rate
			}
			if fl.Changed("accept-burst") {
				c.AcceptBurst = &burst
			}
			for name, d := range map[string]*time.Duration{"ping-interval": &ping, "pong-deadline": &pong, "idle-timeout": &idle} {
				if fl.Changed(name) {
					ms := d.Milliseconds()
					switch name {
					case "ping-interval":
						c.PingIntervalMS = &ms
					case "pong-deadline":
						c.PongDeadlineMS = &ms
					default:
						c.IdleTimeoutMS = &ms
					}
				}
			}
			if err := c.Validate(); err != nil {
				return err
			}
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			set, err := gatewayRequest(cmd.Context(), nc, args[0], events.CtlGatewayResize, c)
			if err != nil {
				return err
			}
			rep, err := json.Marshal(set)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s resized: %s\n", args[0], rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "command id (default: a new one)")
	f.IntVar(&maxConns, "max-conns", 0, "most connections the node accepts")
	f.Float64Var(&rate, "accept-rate", 0, "new connections per second")
	f.IntVar(&burst, "accept-burst", 0, "accept-rate burst")
	f.DurationVar(&ping, "ping-interval", 0, "server ping interval")
	f.DurationVar(&pong, "pong-deadline", 0, "pong deadline before a connection is stale")
	f.DurationVar(&idle, "idle-timeout", 0, "idle eviction threshold (0 disables)")
	f.BoolVar(&reset, "reset", false, "restore the node's configured defaults")
	return cmd
}
