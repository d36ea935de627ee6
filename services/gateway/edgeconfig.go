package gateway

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wsheal/wsheal/services/gateway/edge"
)

// ByteSize is a size in bytes read from a variable as a number with an
// optional unit: 4194304, 4MiB, 512KiB, 1GiB (KB, MB, GB are the same
// powers of 1024).
type ByteSize int64

// Decode implements envconfig.Decoder.
func (b *ByteSize) Decode(v string) error {
	v = strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q: want a size such as 4194304, 4MiB or 1GiB", v)
	}
	*b = ByteSize(n * mult)
	return nil
}

// defaults fills the derived caps and the timeouts a literal Config left
// at zero.
func (e *Edge) defaults() {
	if e.SocketsPerIP == 0 && e.MaxConnsPerIP > 0 {
		e.SocketsPerIP = e.MaxConnsPerIP + 64
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&e.WriteTimeout, 10 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	e.HTTP.Defaults()
	if e.SendQueueBytes == 0 {
		e.SendQueueBytes = 4 << 20
	}
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
		{"SOCKETS_PER_IP", int64(e.SocketsPerIP), 0}, {"SEND_QUEUE_BYTES", int64(e.SendQueueBytes), 1024},
		{"MEMORY_LIMIT", int64(e.MemoryLimit), 0},
	}
	for _, i := range ints {
		if i.v < i.min {
			return bad(i.name, "%d: at least %d", i.v, i.min)
		}
	}
	if e.AcceptRatePerIP < 0 {
		return bad("ACCEPT_RATE_PER_IP", "%v: not negative", e.AcceptRatePerIP)
	}
	if e.MemoryLimit > 0 && e.MemoryLimit < 32<<20 {
		return bad("MEMORY_LIMIT", "%d: at least 32MiB (or 0 for none)", e.MemoryLimit)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"WRITE_TIMEOUT", e.WriteTimeout}} {
		if d.v < 100*time.Millisecond {
			return bad(d.name, "%v: at least 100ms", d.v)
		}
	}
	if err := e.HTTP.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}
