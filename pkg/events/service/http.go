package service

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// HTTP are the timeouts of a service's HTTP server, read with the
// service's prefix (WSHEAL_GATEWAY_HTTP_IDLE_TIMEOUT, ...). Every HTTP
// server of wsheal is built with Server, so no socket can sit on it
// forever: an idle keep-alive is closed after IdleTimeout, a request must
// arrive within ReadTimeout and its answer leave within WriteTimeout
// (a stream that outlives it lifts its own deadline; a WebSocket is
// free of both once upgraded).
type HTTP struct {
	ReadTimeout  time.Duration `envconfig:"HTTP_READ_TIMEOUT" default:"10s" desc:"bound on reading a whole HTTP request; not applied to WebSocket connections once upgraded"`
	WriteTimeout time.Duration `envconfig:"HTTP_WRITE_TIMEOUT" default:"10s" desc:"bound on writing an HTTP response (event streams lift it); not applied to WebSocket connections once upgraded"`
	IdleTimeout  time.Duration `envconfig:"HTTP_IDLE_TIMEOUT" default:"60s" desc:"an idle HTTP keep-alive socket is closed after this"`
}

// Defaults fills the timeouts left at zero (a Config built as a literal).
func (h *HTTP) Defaults() {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&h.ReadTimeout, 10 * time.Second}, {&h.WriteTimeout, 10 * time.Second}, {&h.IdleTimeout, 60 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
}

// Validate fails on a timeout under 100 ms, naming its variable.
func (h HTTP) Validate(prefix string) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"HTTP_READ_TIMEOUT", h.ReadTimeout}, {"HTTP_WRITE_TIMEOUT", h.WriteTimeout}, {"HTTP_IDLE_TIMEOUT", h.IdleTimeout}} {
		if d.v < 100*time.Millisecond {
			return fmt.Errorf("%s_%s: %v: at least 100ms", prefix, d.name, d.v)
		}
	}
	return nil
}

// Server returns an HTTP server of handler with these timeouts; headers
// must arrive within readHeader.
func (h HTTP) Server(handler http.Handler, readHeader time.Duration) *http.Server {
	h.Defaults()
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeader,
		ReadTimeout:       h.ReadTimeout,
		WriteTimeout:      h.WriteTimeout,
		IdleTimeout:       h.IdleTimeout,
	}
}

// RequireToken serves next only to requests that present token, as
// "Authorization: Bearer <token>" or as the password of HTTP Basic auth
// (any user name: what a browser prompts for). An empty token leaves next
// open. Tokens are compared in constant time.
func RequireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			_, got, _ = r.BasicAuth()
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="wsheal", charset="UTF-8"`)
			http.Error(w, "unauthorized: present the token as Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Recover turns a panic of next into a 500 for that request, logged with
// its stack and counted by counted (if not nil); the process keeps
// serving. http.ErrAbortHandler, net/http's own way to abort a response,
// passes through.
func Recover(log zerolog.Logger, counted func(), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			if counted != nil {
				counted()
			}
			log.Error().Interface("panic", v).Str("path", r.URL.Path).Bytes("stack", debug.Stack()).Msg("http handler panicked")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}
