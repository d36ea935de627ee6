package gateway

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/gateway/auth"
	"github.com/wsheal/wsheal/services/gateway/fleet"
	"github.com/wsheal/wsheal/services/gateway/pool"
	"github.com/wsheal/wsheal/services/gateway/session"
	"github.com/wsheal/wsheal/services/gateway/webclient"
)

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	mux.Handle("GET /metrics", service.RequireToken(s.cfg.MetricsToken, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})))
	connect := s.cors(http.HandlerFunc(s.handleConnect))
	mux.Handle("GET /v1/connect", connect)
	mux.Handle("OPTIONS /v1/connect", connect)
	webclient.Routes(mux, s.cors)
	return service.Recover(s.log, func() { s.metrics.refuse(refusedInternal) }, mux)
}

// handleWS checks the origin, authenticates, admits and upgrades a
// client. The token is verified before admission, so bad tokens spend no
// accept-rate bucket; a peer address that failed authentication too often
// is refused before its token is read.
func (s *Service) handleWS(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("v"); v != "" && v != strconv.Itoa(frame.ProtocolVersion) {
		http.Error(w, "unsupported protocol version "+v+"; this gateway speaks 1", http.StatusBadRequest)
		return
	}
	if !s.origins.Allow(r) {
		s.metrics.refuse(refusedOrigin)
		http.Error(w, "origin not allowed: set WSHEAL_GATEWAY_ALLOWED_ORIGINS", http.StatusForbidden)
		return
	}
	peer, now := s.peers.Of(r), time.Now()
	if retry, err := s.limits.Blocked(peer, now); err != nil {
		s.tooMany(w, retry, err)
		return
	}
	claims, err := s.verifier.Verify(r)
	if err != nil {
		s.limits.Failed(peer, now)
		s.authFailed(w, r, err)
		return
	}
	release, retry, err := s.limits.Acquire(peer, now)
	if err != nil {
		s.tooMany(w, retry, err)
		return
	}
	if retry, err := s.pool.Admit(); err != nil {
		release()
		secs := int(math.Ceil(max(retry, time.Second).Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	a := pool.Accept{Data: session.NewState(claims), Expires: claims.Expires(), Remote: s.remote(r, peer), OnClose: release}
	if _, err := s.pool.Upgrade(w, r, a); err != nil {
		s.log.Debug().Err(err).Str("remote", a.Remote).Msg("upgrade failed")
	}
}

// authFailed refuses a request whose token is missing, invalid or
// expired: upgraded only to be closed with the matching code.
func (s *Service) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	code := frame.CloseUnauthorized
	if errors.Is(err, auth.ErrExpired) {
		code = frame.CloseTokenExpired
	}
	s.metrics.authFailures.Inc()
	s.notes.emit(events.ConnEvent{Node: s.cfg.Node, Kind: events.ConnAuthFailure, Remote: s.remote(r, s.peers.Of(r)), Detail: err.Error()})
	s.pool.Refuse(w, r, code, err.Error())
}

func (s *Service) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "node": s.cfg.Node})
}

// handleReadyz is 503 while draining or without NATS.
func (s *Service) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case s.pool.Draining():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": "draining"})
	case !s.nc.IsConnected():
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": "nats disconnected"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	}
}

// handleConnect answers a node to connect to: fresh, not draining, picked
// by fleet.Registry.Pick (two random choices weighted by free capacity).
// With ?redirect=1 it redirects there instead.
func (s *Service) handleConnect(w http.ResponseWriter, r *http.Request) {
	best, err := s.registry.Pick("", time.Now())
	if errors.Is(err, fleet.ErrNoNode) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": err.Error()})
		return
	}
	if r.URL.Query().Get("redirect") != "" {
		http.Redirect(w, r, best.URL, http.StatusTemporaryRedirect)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": best.URL, "node": best.Node})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
