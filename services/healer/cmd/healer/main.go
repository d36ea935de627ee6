// Command healer runs one wsheal healer replica.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
	"github.com/wsheal/wsheal/services/healer"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "policies" {
		b, err := healer.EffectivePolicies(os.Getenv(healer.EnvPrefix + "_POLICIES"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_, _ = os.Stdout.Write(b)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := tracing.Run(ctx, "healer", func(ctx context.Context) error { return service.Serve(ctx, healer.ConfigFromEnv, healer.New) }); err != nil {
		fmt.Fprintln(os.Stderr, "healer:", err)
		os.Exit(1)
	}
}
