package dev

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/wsheal/wsheal/cmd/wsheal/internal/receiver"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// startReceiver serves the stand-in for Slack, PagerDuty, the webhook and
// Alertmanager that the notifier's sinks point at, so a demo shows what
// would have been sent (GET /received lists it).
func (s *Supervisor) startReceiver() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Host, "0"))
	if err != nil {
		return err
	}
	s.recv = service.HTTP{}.Server(receiver.New(nil, 1000), 5*time.Second)
	s.recv.Addr = ln.Addr().String()
	go func() {
		if err := s.recv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("receiver stopped")
		}
	}()
	return nil
}

func (s *Supervisor) stopReceiver() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.recv.Shutdown(ctx)
}
