// Command monitor runs the wsheal monitor, configured by WSHEAL_MONITOR_*
// environment variables.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
	"github.com/wsheal/wsheal/services/monitor"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := tracing.Run(ctx, "monitor", func(ctx context.Context) error {
		return service.Serve(ctx, monitor.ConfigFromEnv, dashboard.NewMonitor)
	}); err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(1)
	}
}
