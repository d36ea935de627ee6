package pool

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits are the pool's configuration: the caps, rates, queues and
// timeouts of its connections. The variables are read under the service's
// prefix (WSHEAL_GATEWAY_MAX_CONNS). Limits that Resize changes live in
// the pool afterwards; Limits keeps the rest.
type Limits struct {
	MaxConns    int     `envconfig:"MAX_CONNS" default:"10000" desc:"most client connections; upgrades past it get 503 + Retry-After"`
	AcceptRate  float64 `envconfig:"ACCEPT_RATE" default:"200" desc:"new connections per second (token bucket); past it 503 + Retry-After"`
	AcceptBurst int     `envconfig:"ACCEPT_BURST" default:"400" desc:"burst of the accept-rate bucket"`
	// MaxMessage is the largest inbound frame in bytes.
	MaxMessage int `envconfig:"MAX_MESSAGE" default:"65536" desc:"largest inbound frame in bytes"`
	// InboundRate is the frames per second a connection may send; 0 is
	// unlimited.
	InboundRate  float64 `envconfig:"INBOUND_RATE" default:"100" desc:"frames per second a connection may send (0: unlimited); past it close 4005"`
	InboundBurst int     `envconfig:"INBOUND_BURST" default:"200" desc:"burst of the per-connection inbound bucket"`
	// SendQueue is the frames queued per connection.
	SendQueue int `envconfig:"SEND_QUEUE" default:"1024" desc:"frames queued per connection; a full queue closes a slow consumer with 4002"`
	// SendQueueBytes is the bytes of the frames queued per connection
	// (default 4 MiB).
	SendQueueBytes ByteSize `envconfig:"SEND_QUEUE_BYTES" default:"4MiB" desc:"bytes queued per connection (with SEND_QUEUE frames); past it close 4002"`
	// WriteTimeout bounds every write to a peer (default 10 s); a peer
	// that does not read within it is closed as a slow consumer.
	WriteTimeout time.Duration `envconfig:"WRITE_TIMEOUT" default:"10s" desc:"bound on every write to a client (at most an eighth more); a client that reads nothing within it is closed 4002"`
	// MemoryLimit is the node's memory budget in bytes (0: none). Past
	// 80% of it upgrades are refused; past 90% the connections with the
	// most bytes queued are closed (see budget).
	MemoryLimit  ByteSize      `envconfig:"MEMORY_LIMIT" default:"0" desc:"node memory budget (e.g. 512MiB; 0: none): sets the Go runtime's soft memory limit; past 80% upgrades get 503, past 90% the connections with the most bytes queued are closed 4002"`
	PingInterval time.Duration `envconfig:"PING_INTERVAL" default:"5s" desc:"server ping interval per connection (jittered by 10%)"`
	PongDeadline time.Duration `envconfig:"PONG_DEADLINE" default:"5s" desc:"a connection with no pong within this is stale and closed (4000)"`
	// IdleTimeout evicts a connection without subscription or traffic; 0
	// disables idle eviction.
	IdleTimeout      time.Duration `envconfig:"IDLE_TIMEOUT" default:"5m" desc:"a connection with no subscription and no traffic this long is evicted (4001); 0 disables"`
	HandshakeTimeout time.Duration `envconfig:"HANDSHAKE_TIMEOUT" default:"5s" desc:"bound on the WebSocket upgrade"`
	// Shards is the number of scanner shards (default 8).
	Shards int `ignored:"true"`
}

// withDefaults fills what a literal Limits may leave at zero and the
// variables default: the bytes queued and the write timeout.
func (l Limits) withDefaults() Limits {
	if l.SendQueueBytes <= 0 {
		l.SendQueueBytes = 4 << 20
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 10 * time.Second
	}
	return l
}

// Validate fails on a bad value, naming its variable under prefix
// (WSHEAL_GATEWAY); zero values that New fills are fine.
func (l Limits) Validate(prefix string) error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%s_%s: %s", prefix, name, fmt.Sprintf(format, args...))
	}
	l = l.withDefaults()
	ints := []struct {
		name string
		v    int64
		min  int64
	}{
		{"MAX_CONNS", int64(l.MaxConns), 0}, {"ACCEPT_BURST", int64(l.AcceptBurst), 1}, {"MAX_MESSAGE", int64(l.MaxMessage), 256},
		{"INBOUND_BURST", int64(l.InboundBurst), 1}, {"SEND_QUEUE", int64(l.SendQueue), 8},
		{"SEND_QUEUE_BYTES", int64(l.SendQueueBytes), 1024}, {"MEMORY_LIMIT", int64(l.MemoryLimit), 0},
	}
	for _, i := range ints {
		if i.v < i.min {
			return bad(i.name, "%d: at least %d", i.v, i.min)
		}
	}
	if l.MemoryLimit > 0 && l.MemoryLimit < 32<<20 {
		return bad("MEMORY_LIMIT", "%d: at least 32MiB (or 0 for none)", l.MemoryLimit)
	}
	if l.AcceptRate <= 0 {
		return bad("ACCEPT_RATE", "%v: must be positive", l.AcceptRate)
	}
	if l.InboundRate < 0 {
		return bad("INBOUND_RATE", "%v: not negative", l.InboundRate)
	}
	durs := []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"PING_INTERVAL", l.PingInterval, 10 * time.Millisecond}, {"PONG_DEADLINE", l.PongDeadline, 10 * time.Millisecond},
		{"IDLE_TIMEOUT", l.IdleTimeout, 0}, {"HANDSHAKE_TIMEOUT", l.HandshakeTimeout, 100 * time.Millisecond},
		{"WRITE_TIMEOUT", l.WriteTimeout, 100 * time.Millisecond},
	}
	for _, d := range durs {
		if d.v < d.min {
			return bad(d.name, "%v: at least %v", d.v, d.min)
		}
	}
	return nil
}

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
