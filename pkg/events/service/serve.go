package service

import (
	"context"
	"os"

	"github.com/rs/zerolog"
)

// Logging returns the logging config; every service Config embeds Log and
// so has this method, which Serve uses.
func (l Log) Logging() Log { return l }

// Runner is a service that runs until its context ends.
type Runner interface {
	Run(ctx context.Context) error
}

// Serve is the body of every service's main: read the config from the
// environment (failing on a bad value with a message naming it), build the
// root logger on stderr, build the service and run it until ctx ends.
func Serve[C interface{ Logging() Log }, S Runner](ctx context.Context,
	fromEnv func() (C, error), newSvc func(C, zerolog.Logger) (S, error)) error {
	cfg, err := fromEnv()
	if err != nil {
		return err
	}
	l := cfg.Logging()
	log, err := Logger(os.Stderr, l.Level, l.Format)
	if err != nil {
		return err
	}
	svc, err := newSvc(cfg, log)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
