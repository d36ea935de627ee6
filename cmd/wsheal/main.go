// Command wsheal is the one production binary of wsheal: the services
// (gateway, monitor, healer, notifier), the all-in-one `wsheal dev`, and
// the operator's CLI (status, events, incidents, drain, rollout ...).
// `wsheal bench` and `wsheal chaos` run wsheal-tools (module tools/),
// which holds the load and chaos code this binary does not.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "wsheal:", err)
		}
		os.Exit(1)
	}
}

// errSilent marks an error already reported to the user.
var errSilent = errors.New("reported")

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "wsheal",
		Short: "Self-healing WebSocket infrastructure over NATS",
		Long: `wsheal keeps a fleet of WebSocket gateways healthy by itself: gateways report
their health to NATS, a monitor turns reports into anomalies, a healer acts
and verifies, a notifier pages a human only when the machine cannot heal.

Start everything on this machine with 'wsheal dev'; watch it with
'wsheal status' and 'wsheal events'; steer it with 'wsheal drain' and friends.`,
		Version:       events.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddGroup(
		&cobra.Group{ID: "run", Title: "Run wsheal:"},
		&cobra.Group{ID: "ops", Title: "Operate a running fleet:"},
		&cobra.Group{ID: "test", Title: "Load and chaos:"},
	)
	addNATSFlags(root)
	root.AddCommand(devCmd(), healthcheckCmd(), receiverCmd(), configCmd(), setupStreamsCmd())
	root.AddCommand(serveCmd())
	for _, c := range opsCmds() {
		root.AddCommand(c)
	}
	for _, c := range toolCmds() {
		root.AddCommand(c)
	}
	return root
}
