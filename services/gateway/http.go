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
	"github.com/wsheal/wsheal/services/gateway/auth"
	"github.com/wsheal/wsheal/services/gateway/fleet"
	"github.com/wsheal/wsheal/services/gateway/pool"
	"github.com/wsheal/wsheal/services/gateway/session"
)

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/connect", s.handleConnect)
	return mux
}

// handleWS admits, authenticates and upgrades a client.
func (s *Service) handleWS(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("v"); v != "" && v != strconv.Itoa(frame.ProtocolVersion) {
		http.Error(w, "unsupported protocol version "+v+"; this gateway speaks 1", http.StatusBadRequest)
		return
	}
	if retry, err := s.pool.Admit(); err != nil {
		secs := int(math.Ceil(max(retry, time.Second).Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	claims, err := s.verifier.Verify(r)
	if err != nil {
		s.pool.Release()
		code := frame.CloseUnauthorized
		if errors.Is(err, auth.ErrExpired) {
			code = frame.CloseTokenExpired
		}
		s.metrics.authFailures.Inc()
		s.notes.emit(events.ConnEvent{Node: s.cfg.Node, Kind: events.ConnAuthFailure, Remote: r.RemoteAddr, Detail: err.Error()})
		s.pool.Refuse(w, r, code, err.Error())
		return
	}
	if _, err := s.pool.Upgrade(w, r, pool.Accept{Data: session.NewState(claims), Expires: claims.Expires()}); err != nil {
		s.log.Debug().Err(err).Str("remote", r.RemoteAddr).Msg("upgrade failed")
	}
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

// handleConnect answers the best node to connect to: fresh, not draining,
// least loaded. With ?redirect=1 it redirects there instead.
func (s *Service) handleConnect(w http.ResponseWriter, r *http.Request) {
	best, err := s.registry.Best("", time.Now())
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
