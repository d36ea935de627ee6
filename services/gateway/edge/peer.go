package edge

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// ErrConfig is wrapped by every configuration error of the package.
var ErrConfig = errors.New("edge: config")

// Peers resolves the client address of a request, believing the proxy
// headers only of sockets from trusted proxies.
type Peers struct {
	trusted []netip.Prefix
}

// NewPeers parses a comma-separated list of CIDRs (or bare addresses) of
// trusted proxies; an empty list trusts no one.
func NewPeers(cidrs string) (*Peers, error) {
	p := &Peers{}
	for _, f := range strings.Split(cidrs, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%w: trusted proxy %q: %w", ErrConfig, f, err)
			}
			f = netip.PrefixFrom(a, a.BitLen()).String()
		}
		pfx, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted proxy %q: %w", ErrConfig, f, err)
		}
		p.trusted = append(p.trusted, pfx.Masked())
	}
	return p, nil
}

// Trusted reports whether a is a trusted proxy.
func (p *Peers) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pfx := range p.trusted {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// Of returns the client address of r: the socket's, or behind trusted
// proxies the one their headers name.
func (p *Peers) Of(r *http.Request) netip.Addr {
	sock := SocketAddr(r.RemoteAddr)
	if !sock.IsValid() || !p.Trusted(sock) {
		return sock
	}
	if a, ok := p.fromForwarded(r.Header.Values("X-Forwarded-For")); ok {
		return a
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
		return a.Unmap()
	}
	return sock
}

// fromForwarded walks X-Forwarded-For from the right (the hop nearest to
// us) and returns the first address that is not a trusted proxy.
func (p *Peers) fromForwarded(values []string) (netip.Addr, bool) {
	hops := strings.Split(strings.Join(values, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false // a garbled hop: believe no further
		}
		if a = a.Unmap(); !p.Trusted(a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// SocketAddr is the IP of a host:port address (invalid if it has none).
func SocketAddr(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

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
