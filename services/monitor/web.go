package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/redact"
	"github.com/wsheal/wsheal/pkg/events/service"
)

// Handle adds an HTTP handler to the monitor's server, next to /metrics,
// /healthz and /api/. This is where the dashboard plugs in (it owns "/"
// and whatever it serves below); call it before Run. Patterns follow
// net/http.ServeMux.
func (s *Service) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Part is a component that runs beside the monitor on its NATS
// connection (the dashboard's live feed, for one): started once Run has
// connected, stopped when Run's context ends. An error is logged; it does
// not stop the monitor.
type Part func(ctx context.Context, nc *nats.Conn) error

// Attach adds a part to run with the monitor; call it before Run. With
// Handle it is all a dashboard needs:
//
//	d := dashboard.New(cfg, log)
//	svc.Handle("/", d.Handler())
//	svc.Attach(d.Run)
func (s *Service) Attach(p Part) { s.parts = append(s.parts, p) }

// runParts starts the attached parts.
func (s *Service) runParts(ctx context.Context) {
	for _, p := range s.parts {
		s.goRun(func() {
			if err := p(ctx, s.nc); err != nil && ctx.Err() == nil {
				s.log.Error().Err(err).Msg("attached part stopped")
			}
		})
	}
}

// routes registers the built-in endpoints:
//
//	GET /healthz              200 when connected to NATS and the loop runs, else 503
//	GET /readyz               the same (a replica that cannot see the fleet cannot judge it)
//	GET /metrics              Prometheus
//	GET /api/fleet[?state=]   events.FleetStatus
//	GET /api/nodes/{node}     events.NodeDetail (?history=N)
//	GET /api/anomalies        events.AnomalyList (?kind=&target=)
//	GET /sd/gateways          the fleet as Prometheus HTTP service discovery
func (s *Service) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.healthz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	s.mux.HandleFunc("GET /sd/gateways", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.ScrapeTargets())
	})
	s.mux.HandleFunc("GET /api/fleet", func(w http.ResponseWriter, r *http.Request) {
		q := events.FleetStatusRequest{State: r.URL.Query().Get("state")}
		if err := q.Validate(); err != nil {
			writeError(w, events.Errorf(events.CodeBadRequest, "%v", err))
			return
		}
		writeJSON(w, http.StatusOK, s.FleetStatus(q.State))
	})
	s.mux.HandleFunc("GET /api/nodes/{node}", func(w http.ResponseWriter, r *http.Request) {
		history, _ := strconv.Atoi(r.URL.Query().Get("history"))
		q := events.NodeRequest{Node: r.PathValue("node"), History: history}
		if err := q.Validate(); err != nil {
			writeError(w, events.Errorf(events.CodeBadRequest, "%v", err))
			return
		}
		d, err := s.NodeDetail(q.Node, q.History)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
	s.mux.HandleFunc("GET /api/anomalies", func(w http.ResponseWriter, r *http.Request) {
		q := events.AnomaliesRequest{Kind: r.URL.Query().Get("kind"), Target: r.URL.Query().Get("target")}
		if err := q.Validate(); err != nil {
			writeError(w, events.Errorf(events.CodeBadRequest, "%v", err))
			return
		}
		writeJSON(w, http.StatusOK, s.Anomalies(q.Kind, q.Target))
	})
}

// guard is the server's handler: /healthz and /readyz open, /metrics and
// /sd/gateways (what Prometheus reads) behind METRICS_TOKEN, everything else (the dashboard, /api) behind
// DASHBOARD_TOKEN, each when set; a panicking handler answers 500 and is
// counted.
func (s *Service) guard() http.Handler {
	metrics := service.RequireToken(s.cfg.MetricsToken, s.mux)
	dashboard := service.RequireToken(s.cfg.DashboardToken, s.mux)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			s.mux.ServeHTTP(w, r)
		case "/metrics", "/sd/gateways":
			metrics.ServeHTTP(w, r)
		default:
			dashboard.ServeHTTP(w, r)
		}
	})
	return service.Recover(s.log, s.metrics.httpPanics.Inc, h)
}

// Healthy reports whether this replica works: connected to NATS with its
// loop ticking.
func (s *Service) Healthy() (bool, string) {
	last := time.Unix(0, s.lastTick.Load())
	switch {
	case s.lastTick.Load() == 0:
		return false, "starting"
	case !s.connected.Load():
		return false, "NATS disconnected"
	case time.Since(last) > 5*s.cfg.Tick+time.Second:
		return false, "detection loop stalled"
	}
	return true, "ok"
}

func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	ok, why := s.Healthy()
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ok": ok, "status": why, "instance": s.instance, "panic": s.panicking.Load()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(redact.Bytes(b), '\n')) // no secret reaches a browser
}

func writeError(w http.ResponseWriter, err error) {
	var ce *events.Error
	if !errors.As(err, &ce) {
		ce = events.Errorf(events.CodeInternal, "%v", err)
	}
	code := http.StatusInternalServerError
	switch ce.Code {
	case events.CodeBadRequest:
		code = http.StatusBadRequest
	case events.CodeNotFound:
		code = http.StatusNotFound
	}
	writeJSON(w, code, events.Reply{OK: false, Error: ce})
}
