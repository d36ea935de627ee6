package events

import (
	"fmt"
	"net/url"
	"strings"
)

// Schemes a Registration's URLs may use: anything else (javascript:,
// file:, data:, ...) is refused by DecodeRegistration.
var registrationSchemes = map[string]bool{"ws": true, "wss": true, "http": true, "https": true}

// Hosts is an allow-list of the host names that registrations may point
// clients and probes at. An entry "gw-1" or "10.0.0.7" matches that host
// exactly; an entry ".example.com" matches any sub-domain of example.com;
// the entry "{node}" matches the registration's own node id, for fleets
// whose nodes are reached by their node name, as compose's scaled gateways
// are (a node's id is its container's host name, which the deployment's
// DNS resolves). An empty list allows any host (`wsheal dev`, tests); a deployment sets
// one so that a forged registration cannot send clients to
// https://evil.example.
type Hosts []string

// NodeHost is the Hosts entry that allows a registration's own node id.
const NodeHost = "{node}"

// Allows reports whether host (without port) is in the list.
func (h Hosts) Allows(host string) bool { return h.allows(host, "") }

// allows is Allows for the registration of node: the entry NodeHost
// matches a host equal to node.
func (h Hosts) allows(host, node string) bool {
	if len(h) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, e := range h {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
		case strings.HasPrefix(e, "."):
			if strings.HasSuffix(host, e) && len(host) > len(e) {
				return true
			}
		case host == e:
			return true
		case e == NodeHost && node != "" && host == strings.ToLower(node):
			return true
		}
	}
	return false
}

// checkRegistrationURL parses raw and checks its scheme and host.
func checkRegistrationURL(field, raw, node string, hosts Hosts) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRegistration, field, err)
	}
	if !registrationSchemes[strings.ToLower(u.Scheme)] {
		return fmt.Errorf("%w: %s scheme %q, want ws, wss, http or https", ErrRegistration, field, u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: %s needs a host and no user info", ErrRegistration, field)
	}
	if !hosts.allows(u.Hostname(), node) {
		return fmt.Errorf("%w: %s host %q is not an allowed gateway host", ErrRegistration, field, u.Hostname())
	}
	return nil
}

// CheckURLs checks the registration's URL and InternalURL: scheme ws, wss,
// http or https, a host, no user info, and a host that hosts allows.
// Every reader of BucketFleet calls it (DecodeRegistration checks the
// schemes alone) before it sends a client or a probe to a node.
func (r Registration) CheckURLs(hosts Hosts) error {
	if r.URL != "" {
		if err := checkRegistrationURL("url", r.URL, r.Node, hosts); err != nil {
			return err
		}
	}
	if r.InternalURL != "" {
		if err := checkRegistrationURL("internal_url", r.InternalURL, r.Node, hosts); err != nil {
			return err
		}
	}
	return nil
}
