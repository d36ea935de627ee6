// Command notifier runs the wsheal notifier: incidents, escalation, sinks
// and post-incident reviews. Configuration: WSHEAL_NOTIFIER_* variables.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
	"github.com/wsheal/wsheal/services/notifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := tracing.Run(ctx, "notifier", func(ctx context.Context) error { return service.Serve(ctx, notifier.ConfigFromEnv, notifier.New) }); err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}
