package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Probe answers whether a service is fine, and a word saying why not.
type Probe func() (ok bool, status string)

// Ops are the operations endpoints of a service that has no other HTTP
// server (the healer and the notifier; the gateway and the monitor add
// the same three routes to their own):
//
//	GET /metrics   Metrics, behind Token when it is set
//	GET /healthz   200 while Health holds (the process works), else 503
//	GET /readyz    200 while Ready holds (it can do its job now), else 503
//
// The probes stay open: a load balancer or a kubelet has no token.
type Ops struct {
	Metrics http.Handler
	Token   string
	Health  Probe
	Ready   Probe
	// Panics, if set, counts handler panics (each answered 500).
	Panics func()
}

// Handler is the endpoints' handler, panics recovered.
func (o Ops) Handler(log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", RequireToken(o.Token, o.Metrics))
	mux.HandleFunc("GET /healthz", probe(o.Health))
	mux.HandleFunc("GET /readyz", probe(o.Ready))
	return Recover(log, o.Panics, mux)
}

func probe(p Probe) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		ok, status := true, "ok"
		if p != nil {
			ok, status = p()
		}
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		b, _ := json.Marshal(map[string]any{"ok": ok, "status": status})
		_, _ = w.Write(append(b, '\n'))
	}
}

// ListenOff is the listen address that turns a service's HTTP server off
// (an empty address does too: a Config built as a literal).
const ListenOff = "off"

// ListenHTTP serves h on addr (ListenOff: not at all) with the timeouts
// of cfg until ctx ends, then shuts the server down. It returns the bound
// address ("" when off) once the socket listens; name is the variable
// named in a listen error (WSHEAL_HEALER_LISTEN).
func ListenHTTP(ctx context.Context, addr, name string, cfg HTTP, h http.Handler, log zerolog.Logger) (string, error) {
	if addr == ListenOff || addr == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen %s (%s): %w", addr, name, err)
	}
	srv := cfg.Server(h, 5*time.Second)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server stopped")
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("http listening")
	return ln.Addr().String(), nil
}

// ValidateListen checks a listen address (host:port or ListenOff), naming
// its variable.
func ValidateListen(name, addr string) error {
	if addr == ListenOff || addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s=%q: want host:port or off: %v", name, addr, err)
	}
	return nil
}
