package gateway

import (
	"errors"
	"math"
	"net/http"
	"net/netip"
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
