package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/redact"
)

// Marker is the response header (and a data attribute of the page) that
// says an HTTP server serves this dashboard.
const Marker = "X-Wsheal-Dashboard"

// routes registers the console, its assets and the JSON and SSE endpoints.
func (d *Dashboard) routes() {
	static := http.FileServerFS(staticFS())
	d.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(Marker, events.Version)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, staticFS(), "index.html")
	})
	d.mux.Handle("GET /assets/", http.StripPrefix("/assets/", static))
	d.mux.HandleFunc("GET /dash/stream", d.stream)
	d.mux.HandleFunc("GET /dash/snapshot", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, d.store.snapshot(time.Now()))
	})
	d.mux.HandleFunc("GET /dash/fleet", func(w http.ResponseWriter, r *http.Request) {
		fs, err := ask(r.Context(), d, events.CtlMonitorStatus, events.FleetStatusRequest{})
		d.reply(w, err, &fs)
	})
	d.mux.HandleFunc("GET /dash/nodes/{node}", func(w http.ResponseWriter, r *http.Request) {
		req := events.NodeRequest{Node: r.PathValue("node"), History: 20}
		if err := req.Validate(); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		nd, err := ask(r.Context(), d, events.CtlMonitorNode, req)
		d.reply(w, err, &nd)
	})
	d.mux.HandleFunc("GET /dash/incidents", func(w http.ResponseWriter, r *http.Request) {
		req := events.IncidentListRequest{State: r.URL.Query().Get("state"), Limit: 40}
		if err := req.Validate(); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		l, err := ask(r.Context(), d, events.CtlIncidentList, req)
		d.reply(w, err, &l)
	})
	d.mux.HandleFunc("GET /dash/incidents/{id}", d.incident)
	d.mux.HandleFunc("GET /dash/analytics", d.analytics)
	d.mux.HandleFunc("GET /dash/records", d.records)
	d.mux.HandleFunc("GET /dash/healer", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.healer(r.Context()))
	})
}

// IncidentDetail is the reply of /dash/incidents/{id}: the incident with
// its timeline, and its review once it is resolved.
type IncidentDetail struct {
	Incident    events.Incident `json:"incident"`
	Review      *events.Review  `json:"review,omitempty"`
	ReviewError string          `json:"review_error,omitempty"`
}

func (d *Dashboard) incident(w http.ResponseWriter, r *http.Request) {
	req := events.IncidentRequest{Incident: r.PathValue("id")}
	if err := req.Validate(); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return
	}
	var det IncidentDetail
	var err error
	if det.Incident, err = ask(r.Context(), d, events.CtlIncidentGet, req); err != nil {
		d.reply(w, err, nil)
		return
	}
	if det.Incident.State == events.IncidentResolved {
		switch rv, err := ask(r.Context(), d, events.CtlIncidentReview, req); {
		case err == nil:
			det.Review = &rv
		case isNotFound(err):
			det.ReviewError = "review not written yet"
		default:
			det.ReviewError = err.Error()
		}
	}
	writeJSON(w, http.StatusOK, &det)
}

// HealerView is the reply of /dash/healer and the "healer" stream event.
// Each half carries its own error so one failing does not hide the other.
type HealerView struct {
	Status       *events.HealerStatus `json:"status,omitempty"`
	StatusError  string               `json:"status_error,omitempty"`
	Actions      []events.Remediation `json:"actions"`
	ActionsError string               `json:"actions_error,omitempty"`
}

func (d *Dashboard) healer(ctx context.Context) HealerView {
	var v HealerView
	if st, err := ask(ctx, d, events.CtlHealerStatus, events.Empty{}); err != nil {
		v.StatusError = err.Error()
	} else {
		v.Status = &st
	}
	acts, err := ask(ctx, d, events.CtlHealerActions, events.HealerActionsRequest{Limit: 30})
	if err != nil {
		v.ActionsError = err.Error()
	}
	v.Actions = acts.Actions
	if v.Actions == nil {
		v.Actions = []events.Remediation{}
	}
	return v
}

// reply writes out, or the error with the status that fits it.
func (d *Dashboard) reply(w http.ResponseWriter, err error, out any) {
	if err == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	code := http.StatusBadGateway
	switch {
	case errors.Is(err, ErrNoNATS):
		code = http.StatusServiceUnavailable
	case isNotFound(err):
		code = http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	writeErr(w, code, err)
}

func isNotFound(err error) bool {
	var ce *events.Error
	return errors.As(err, &ce) && ce.Code == events.CodeNotFound
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(redact.Bytes(b), '\n')) // no secret reaches a browser
}

// errorBody is the JSON of every failed dashboard request.
type errorBody struct {
	Error string `json:"error"`
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{Error: err.Error()})
}
