// Command wsheal-tools holds wsheal's load and chaos tooling, out of the
// production binary: `bench` (WebSocket clients that publish, subscribe
// and check every delivery), `bench --suite` (wsheal side by side with raw
// gws and NATS's WebSocket listener) and `chaos` (named faults injected
// into a running stack under load). The wsheal command runs it for
// `wsheal bench` and `wsheal chaos` when it lies beside wsheal or on PATH.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/cmd/wsheal/natsflag"
	"github.com/wsheal/wsheal/pkg/events"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wsheal-tools:", err)
		os.Exit(1)
	}
}

// natsOpts are the NATS flags, the same as wsheal's: `wsheal -s URL
// chaos` hands them over unchanged.
var natsOpts natsflag.Flags

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "wsheal-tools",
		Short: "wsheal's load and chaos tools: bench, the side-by-side suite, chaos",
		Long: `The load and chaos tools of wsheal, a binary apart so that the production
image holds none of them. 'wsheal bench' and 'wsheal chaos' run this binary
when it lies beside wsheal or on PATH (make tools-bin builds bin/wsheal-tools).`,
		Version:       events.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	natsOpts.Register(root.PersistentFlags())
	root.AddCommand(benchCmd(), chaosCmd(), suiteServerCmd(), suiteWorkerCmd())
	return root
}

// connect opens the operator's NATS connection.
func connect() (*nats.Conn, error) { return natsOpts.Connect("wsheal-tools") }

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
