// Package probe checks a silent gateway from the outside, to tell a hung
// node from a dead one: a stopped or wedged process still completes TCP
// handshakes (the kernel answers from the listen backlog) while its HTTP
// /healthz does not answer; a crashed process refuses connections.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/wsheal/wsheal/services/monitor/detect"
)

// ErrBadURL is returned for a URL that names no host to probe.
var ErrBadURL = errors.New("probe: bad url")

// Target returns the host:port and the /healthz URL of a gateway's
// public WebSocket URL (ws, wss, http or https).
func Target(raw string) (hostport, healthz string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", "", fmt.Errorf("%w: %q", ErrBadURL, raw)
	}
	scheme, port := "http", "80"
	if u.Scheme == "wss" || u.Scheme == "https" {
		scheme, port = "https", "443"
	}
	if u.Port() != "" {
		port = u.Port()
	}
	hostport = net.JoinHostPort(u.Hostname(), port)
	return hostport, scheme + "://" + hostport + "/healthz", nil
}

// Check dials the gateway behind rawURL and asks its /healthz, each within
// timeout.
func Check(ctx context.Context, rawURL string, timeout time.Duration) detect.Probe {
	start := time.Now()
	p := detect.Probe{URL: rawURL}
	defer func() { p.Elapsed = time.Since(start) }()
	hostport, healthz, err := Target(rawURL)
	if err != nil {
		p.Detail = err.Error()
		return p
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		p.Detail = "tcp: " + err.Error()
		return p
	}
	_ = conn.Close()
	p.Accepts = true
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(hctx, http.MethodGet, healthz, nil)
	if err != nil {
		p.Detail = err.Error()
		return p
	}
	client := http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		p.Detail = "tcp accepts, healthz: " + err.Error()
		return p
	}
	_ = resp.Body.Close()
	p.HTTPOK = resp.StatusCode/100 == 2
	p.Detail = "tcp accepts, healthz " + resp.Status
	return p
}
