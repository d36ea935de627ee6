package edge

import (
	"net/http"
	"net/url"
	"strings"
)

// Origins is the list of browser origins allowed to open a WebSocket.
type Origins struct {
	any     bool
	allowed map[string]bool
}

// NewOrigins parses a comma-separated list of origins
// ("https://app.example.com"); "*" allows any. The gateway's own origin
// (the Origin's host is the request's Host) is always allowed, so an
// empty list allows same-origin pages only.
func NewOrigins(list string) *Origins {
	o := &Origins{allowed: map[string]bool{}}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimRight(strings.TrimSpace(f), "/")
		switch f {
		case "":
		case "*":
			o.any = true
		default:
			o.allowed[strings.ToLower(f)] = true
		}
	}
	return o
}

// Open reports whether any origin is allowed.
func (o *Origins) Open() bool { return o.any }

// Allow reports whether r may upgrade: it has no Origin header (not a
// browser), its origin is in the list or it is the gateway's own.
func (o *Origins) Allow(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || o.any || o.allowed[strings.ToLower(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}
