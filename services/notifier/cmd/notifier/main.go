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
	"github.com/wsheal/wsheal/services/notifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := notifier.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log, err := service.Logger(os.Stderr, cfg.Level, cfg.Format)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	svc, err := notifier.New(cfg, log)
	if err == nil {
		err = svc.Run(ctx)
	}
	if err != nil {
		log.Error().Err(err).Msg("notifier stopped")
		os.Exit(1)
	}
}
