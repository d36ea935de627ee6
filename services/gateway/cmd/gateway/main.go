// Command gateway runs one wsheal gateway node; configuration comes from
// WSHEAL_GATEWAY_* variables (see the gateway package).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
	"github.com/wsheal/wsheal/services/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := tracing.Run(ctx, "gateway", func(ctx context.Context) error { return service.Serve(ctx, gateway.ConfigFromEnv, gateway.New) }); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
