package gateway

import (
	"fmt"

	"github.com/wsheal/wsheal/services/gateway/edge"
)

// defaults fills the derived caps and the timeouts a literal Config left
// at zero.
func (e *Edge) defaults() {
	if e.SocketsPerIP == 0 && e.MaxConnsPerIP > 0 {
		e.SocketsPerIP = e.MaxConnsPerIP + 64
	}
	e.HTTP.Defaults()
}

// validate fails on a bad value, naming its variable; zero values that
// defaults fills are fine.
func (e Edge) validate(bad func(name, format string, args ...any) error) error {
	e.defaults()
	if _, err := edge.NewPeers(e.TrustedProxies); err != nil {
		return bad("TRUSTED_PROXIES", "%v", err)
	}
	ints := []struct {
		name string
		v    int64
		min  int64
	}{
		{"MAX_CONNS_PER_IP", int64(e.MaxConnsPerIP), 0}, {"ACCEPT_BURST_PER_IP", int64(e.AcceptBurstPerIP), 0},
		{"AUTH_FAILURES_PER_IP", int64(e.AuthFailuresPerIP), 0}, {"MAX_SOCKETS", int64(e.MaxSockets), 0},
		{"SOCKETS_PER_IP", int64(e.SocketsPerIP), 0},
	}
	for _, i := range ints {
		if i.v < i.min {
			return bad(i.name, "%d: at least %d", i.v, i.min)
		}
	}
	if e.AcceptRatePerIP < 0 {
		return bad("ACCEPT_RATE_PER_IP", "%v: not negative", e.AcceptRatePerIP)
	}
	if err := e.HTTP.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}
