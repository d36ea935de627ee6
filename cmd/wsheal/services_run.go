package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/service"
)

// serve adapts a service package's ConfigFromEnv and New into a
// runService (see service.Serve).
func serve[C interface{ Logging() service.Log }, S service.Runner](
	fromEnv func() (C, error), newSvc func(C, zerolog.Logger) (S, error),
) runService {
	return func(ctx context.Context) error { return service.Serve(ctx, fromEnv, newSvc) }
}
