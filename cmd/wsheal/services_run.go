package main

import (
	"context"
	"os"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/service"
)

// serve adapts a service package's ConfigFromEnv, New and Run into a
// runService: config from the environment, the root logger, run until ctx ends.
func serve[C any, S interface{ Run(context.Context) error }](
	fromEnv func() (C, error), logOf func(C) service.Log, newSvc func(C, zerolog.Logger) (S, error),
) runService {
	return func(ctx context.Context) error {
		cfg, err := fromEnv()
		if err != nil {
			return err
		}
		l := logOf(cfg)
		log, err := service.Logger(os.Stderr, l.Level, l.Format)
		if err != nil {
			return err
		}
		svc, err := newSvc(cfg, log)
		if err != nil {
			return err
		}
		return svc.Run(ctx)
	}
}
