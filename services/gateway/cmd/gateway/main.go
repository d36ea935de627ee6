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
	"github.com/wsheal/wsheal/services/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := gateway.ConfigFromEnv()
	if err != nil {
		return err
	}
	log, err := service.Logger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	svc, err := gateway.New(cfg, log.With().Str("service", "gateway").Logger())
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
