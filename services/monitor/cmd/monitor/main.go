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
	"github.com/wsheal/wsheal/services/monitor"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "monitor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := monitor.ConfigFromEnv()
	if err != nil {
		return err
	}
	log, err := service.Logger(os.Stderr, cfg.Level, cfg.Format)
	if err != nil {
		return err
	}
	svc, err := monitor.New(cfg, log)
	if err != nil {
		return err
	}
	dashboard.Mount(svc, log)
	return svc.Run(ctx)
}
