package dev

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/gateway/webclient"
)

// startExample serves the example page: wsheal.js, loaded from the first
// gateway, subscribing, publishing and showing the connection state.
func (s *Supervisor) startExample() error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Host, "0"))
	if err != nil {
		return err
	}
	_, _, gw := s.gatewayURL(0)
	var urls []string
	for i := range s.cfg.Gateways {
		_, ws, _ := s.gatewayURL(i)
		urls = append(urls, ws)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", webclient.Example(gw+webclient.VersionedPathJS, gw+"/v1/connect", urls))
	s.example = service.HTTP{}.Server(mux, 5*time.Second)
	s.example.Addr = ln.Addr().String()
	go func() {
		if err := s.example.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("example page server stopped")
		}
	}()
	return nil
}
