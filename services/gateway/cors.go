package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// corsMaxAge is how long a browser may cache a preflight answer (seconds).
const corsMaxAge = "600"

// validOrigins accepts "*" and scheme://host[:port] origins (no path).
func validOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("%q: want scheme://host[:port] or *", o)
		}
	}
	return nil
}

// allowOrigin is the Access-Control-Allow-Origin value for a request from
// origin, "" when that origin is not allowed.
func (s *Service) allowOrigin(origin string) string {
	if origin == "" || len(s.cfg.CORSOrigins) == 0 {
		return ""
	}
	if slices.Contains(s.cfg.CORSOrigins, "*") {
		return "*"
	}
	for _, o := range s.cfg.CORSOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return origin
		}
	}
	return ""
}

// cors lets the browsers of WSHEAL_GATEWAY_CORS_ORIGINS call next: it adds
// Access-Control-Allow-Origin to the answers of allowed origins and
// answers their preflight OPTIONS with 204. Requests from other origins
// get no CORS headers (the browser then hides the answer), and a
// preflight from them 403. The endpoints it guards carry no credentials,
// so Allow-Credentials is never sent.
func (s *Service) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allow := s.allowOrigin(origin)
		if len(s.cfg.CORSOrigins) > 0 && !slices.Contains(s.cfg.CORSOrigins, "*") {
			w.Header().Add("Vary", "Origin")
		}
		if allow != "" {
			w.Header().Set("Access-Control-Allow-Origin", allow)
		}
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if allow == "" {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		}
		w.Header().Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}
