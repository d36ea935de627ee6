package gateway

import (
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/wsheal/wsheal/services/gateway/edge"
)

// Reasons an upgrade is refused at the edge, the label of
// wsheal_gateway_edge_refused_total.
const (
	refusedOrigin   = "origin"
	refusedConns    = "peer_connections"
	refusedRate     = "peer_rate"
	refusedAuth     = "peer_auth_failures"
	refusedPeers    = "peer_table_full"
	refusedInternal = "panic"
)

// tooMany answers 429 with Retry-After for a peer over one of its limits.
func (s *Service) tooMany(w http.ResponseWriter, retry time.Duration, err error) {
	reason := refusedPeers
	switch {
	case errors.Is(err, edge.ErrPeerConns):
		reason = refusedConns
	case errors.Is(err, edge.ErrPeerRate):
		reason = refusedRate
	case errors.Is(err, edge.ErrPeerAuth):
		reason = refusedAuth
	}
	s.metrics.refuse(reason)
	secs := int(math.Ceil(max(retry, time.Second).Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, err.Error(), http.StatusTooManyRequests)
}

// remote names the peer of r for events and status: the socket address,
// or the client address a trusted proxy forwarded.
func (s *Service) remote(r *http.Request, peer netip.Addr) string {
	if sock := edge.SocketAddr(r.RemoteAddr); sock != peer && peer.IsValid() {
		return peer.String()
	}
	return r.RemoteAddr
}

// recoverHTTP turns a panic of an HTTP handler into a 500 for that
// request, logged with its stack and counted; the node keeps serving.
func (s *Service) recoverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.metrics.refuse(refusedInternal)
			s.log.Error().Interface("panic", v).Str("path", r.URL.Path).Bytes("stack", debug.Stack()).Msg("http handler panicked")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}

// requireToken serves next only to requests bearing token
// (Authorization: Bearer); an empty token leaves next open.
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wsheal"`)
			http.Error(w, "unauthorized: Authorization: Bearer <token> required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
