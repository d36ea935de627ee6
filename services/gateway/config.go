package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// EnvPrefix is the prefix of every variable the gateway reads.
const EnvPrefix = "WSHEAL_GATEWAY"

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("gateway: config")

// Config is a gateway node's configuration, read from WSHEAL_GATEWAY_*.
type Config struct {
	service.NATS
	service.Log
	service.Fleet

	Node        string   `envconfig:"NODE" desc:"node id, a subject token (default: the host name)"`
	Listen      string   `envconfig:"LISTEN" default:"127.0.0.1:8080" desc:"HTTP and WebSocket address: /ws, /healthz, /readyz, /metrics, /v1/connect"`
	PublicURL   string   `envconfig:"PUBLIC_URL" desc:"WebSocket URL clients use to reach this node; {node} stands for the node id, for nodes that share one config (ws://lb:8080/node/{node}/ws) (default: ws(s)://<listen>/ws)"`
	InternalURL string   `envconfig:"INTERNAL_URL" desc:"http(s) URL the monitor probes /healthz at, inside the deployment; {node} stands for the node id (default: from the listen address; the host name for 0.0.0.0)"`
	Auth        string   `envconfig:"AUTH" default:"none" desc:"none or jwt (HS256 token in ?token= or Authorization: Bearer)"`
	JWTSecret   string   `envconfig:"JWT_SECRET" desc:"HS256 secret for AUTH=jwt, at least 16 bytes"`
	TLSCert     string   `envconfig:"TLS_CERT" desc:"PEM certificate: serve wss:// and https://"`
	TLSKey      string   `envconfig:"TLS_KEY" desc:"PEM key of TLS_CERT"`
	CORSOrigins []string `envconfig:"CORS_ORIGINS" desc:"origins (scheme://host[:port], comma-separated, or *) whose browsers may call /v1/connect; empty: no CORS headers"`

	// The connection pool's own config: MAX_CONNS, ACCEPT_RATE, ACCEPT_BURST,
	// MAX_MESSAGE (the session's too), INBOUND_RATE, INBOUND_BURST,
	// SEND_QUEUE, SEND_QUEUE_BYTES, WRITE_TIMEOUT, MEMORY_LIMIT,
	// PING_INTERVAL, PONG_DEADLINE, IDLE_TIMEOUT, HANDSHAKE_TIMEOUT.
	pool.Limits
	MaxSubs int `envconfig:"MAX_SUBS" default:"100" desc:"channels per connection"`

	HeartbeatInterval time.Duration `envconfig:"HEARTBEAT_INTERVAL" default:"1s" desc:"heartbeat period on wsheal.evt.gw.<node>.heartbeat"`
	HealthInterval    time.Duration `envconfig:"HEALTH_INTERVAL" default:"5s" desc:"health snapshot period on wsheal.evt.gw.<node>.health"`
	DrainOver         time.Duration `envconfig:"DRAIN_OVER" default:"10s" desc:"how long a drain command without over_ms spreads its reconnect hints"`
	DrainTimeout      time.Duration `envconfig:"DRAIN_TIMEOUT" default:"30s" desc:"on SIGTERM: paced drain over 80% of this, then the rest are closed and the node exits"`
	ConnEventRate     float64       `envconfig:"CONN_EVENT_RATE" default:"5" desc:"notable connection events per second published (the rest are counted as suppressed)"`
	ConnEventBurst    int           `envconfig:"CONN_EVENT_BURST" default:"20" desc:"burst of notable connection events"`
	// The channel hub's own config: FETCH_TIMEOUT, REPLAY_WINDOW, REPLAY_STALL.
	channel.Config

	// Channels are the channel stream's limits, read from WSHEAL_CHANNELS_*
	// (shared with wsheal dev, not under this prefix).
	Channels events.ChannelLimits `ignored:"true"`

	Edge
}

// Edge is the configuration that guards the node against hostile peers:
// browser origins, token claims, limits per client address, sockets and
// HTTP timeouts (see packages edge and auth).
type Edge struct {
	AllowedOrigins string `envconfig:"ALLOWED_ORIGINS" desc:"browser origins allowed to open a WebSocket, comma-separated (https://app.example.com); * allows any; empty allows the gateway's own origin only. A request without Origin (not a browser) is always allowed; any other gets 403"`
	JWTAudience    string `envconfig:"JWT_AUDIENCE" desc:"AUTH=jwt: when set, a token's aud must contain it"`
	JWTIssuer      string `envconfig:"JWT_ISSUER" desc:"AUTH=jwt: when set, a token's iss must equal it"`
	JWTAllowNoExp  bool   `envconfig:"JWT_ALLOW_NO_EXP" default:"false" desc:"AUTH=jwt: accept tokens without exp (they never expire)"`
	TrustedProxies string `envconfig:"TRUSTED_PROXIES" desc:"CIDRs of load balancers, comma-separated, whose X-Forwarded-For / X-Real-IP name the client address; other sockets' headers are ignored"`

	MaxConnsPerIP     int     `envconfig:"MAX_CONNS_PER_IP" default:"256" desc:"open WebSocket connections per client address (0: no limit); past it 429 + Retry-After"`
	AcceptRatePerIP   float64 `envconfig:"ACCEPT_RATE_PER_IP" default:"20" desc:"new connections per second per client address (token bucket; 0: no limit); past it 429 + Retry-After"`
	AcceptBurstPerIP  int     `envconfig:"ACCEPT_BURST_PER_IP" default:"40" desc:"burst of the per-address accept bucket"`
	AuthFailuresPerIP int     `envconfig:"AUTH_FAILURES_PER_IP" default:"10" desc:"failed authentications per minute per client address (0: no limit); past it 429 before the token is read. Bad tokens never spend the accept-rate buckets"`
	MaxSockets        int     `envconfig:"MAX_SOCKETS" desc:"accepted sockets of every kind (WebSocket, HTTP keep-alive, unfinished requests); past it a new socket is closed at once (default 0: the connection cap in force, which resize may change, + 1024)"`
	SocketsPerIP      int     `envconfig:"SOCKETS_PER_IP" desc:"accepted sockets per socket address, trusted proxies excepted; past it a new socket is closed at once (default: MAX_CONNS_PER_IP + 64, no limit when MAX_CONNS_PER_IP is 0)"`

	service.HTTP
	MetricsToken string `envconfig:"METRICS_TOKEN" desc:"when set, /metrics requires Authorization: Bearer <token> (the health endpoints stay open)"`
}

// ConfigFromEnv reads and validates the configuration.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process(EnvPrefix, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := envconfig.Process("WSHEAL", &c.Channels); err != nil {
		return c, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c.Defaults()
	return c, c.Validate()
}

// Defaults fills the values derived from others: the node id from the
// host name, the public URL from the listen address, and {node} in the
// URLs with the node id (one config serves every replica of a scaled
// service, each named by its container's host name).
func (c *Config) Defaults() {
	if c.Node == "" {
		c.Node = service.Instance()
	}
	if c.PublicURL == "" {
		c.PublicURL = publicURL(c.Listen, c.TLSCert != "")
	}
	c.PublicURL = strings.ReplaceAll(c.PublicURL, NodePlaceholder, c.Node)
	c.InternalURL = strings.ReplaceAll(c.InternalURL, NodePlaceholder, c.Node)
	c.Edge.defaults()
}

// NodePlaceholder in PUBLIC_URL or INTERNAL_URL stands for the node id.
const NodePlaceholder = "{node}"

func publicURL(listen string, tls bool) string {
	if tls {
		return hostURL(listen, "wss", "/ws")
	}
	return hostURL(listen, "ws", "/ws")
}

// internalURL is the base http(s) URL of a listen address, for probes.
func internalURL(listen string, tls bool) string {
	if tls {
		return hostURL(listen, "https", "")
	}
	return hostURL(listen, "http", "")
}

// hostURL builds scheme://host:port+path from a listen address, naming the
// host by its host name when the address is unspecified.
func hostURL(listen, scheme, path string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "127.0.0.1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path
}

// Validate fails fast on a bad value, naming its variable.
func (c Config) Validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: %s_%s: %s", ErrConfig, EnvPrefix, name, fmt.Sprintf(format, args...))
	}
	if err := c.NATS.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := events.ValidateToken(c.Node); err != nil {
		return bad("NODE", "%v", err)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("LISTEN", "%q: %v", c.Listen, err)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return bad("PUBLIC_URL", "%q: want ws://host:port/ws or wss://...", c.PublicURL)
	}
	switch c.Auth {
	case "none":
	case "jwt":
		if len(c.JWTSecret) < 16 {
			return bad("JWT_SECRET", "at least 16 bytes when AUTH=jwt")
		}
	default:
		return bad("AUTH", "%q: want none or jwt", c.Auth)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return bad("TLS_CERT", "TLS_CERT and TLS_KEY go together")
	}
	if err := validOrigins(c.CORSOrigins); err != nil {
		return bad("CORS_ORIGINS", "%v", err)
	}
	if err := c.Limits.Validate(EnvPrefix); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.validateLimits(bad); err != nil {
		return err
	}
	return c.Edge.validate(bad)
}

func (c Config) validateLimits(bad func(name, format string, args ...any) error) error {
	ints := []struct {
		name string
		v    int
		min  int
	}{
		{"MAX_SUBS", c.MaxSubs, 1}, {"CONN_EVENT_BURST", c.ConnEventBurst, 1}, {"REPLAY_WINDOW", c.ReplayWindow, 1},
	}
	for _, i := range ints {
		if i.v < i.min {
			return bad(i.name, "%d: at least %d", i.v, i.min)
		}
	}
	if c.ReplayWindow >= c.SendQueue {
		return bad("REPLAY_WINDOW", "%d: below SEND_QUEUE (%d)", c.ReplayWindow, c.SendQueue)
	}
	if c.Channels != (events.ChannelLimits{}) {
		if err := c.Channels.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if c.ConnEventRate <= 0 {
		return bad("CONN_EVENT_RATE", "%v: must be positive", c.ConnEventRate)
	}
	durs := []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"FETCH_TIMEOUT", c.FetchTimeout, 0}, {"REPLAY_STALL", c.ReplayStall, 0},
		{"HEARTBEAT_INTERVAL", c.HeartbeatInterval, 10 * time.Millisecond},
		{"HEALTH_INTERVAL", c.HealthInterval, 10 * time.Millisecond},
		{"DRAIN_OVER", c.DrainOver, 0}, {"DRAIN_TIMEOUT", c.DrainTimeout, 0},
	}
	for _, d := range durs {
		if d.v < d.min {
			return bad(d.name, "%v: at least %v", d.v, d.min)
		}
	}
	return nil
}

// settings are the limits of the configuration, the defaults that resize
// changes and reset restores.
func (c Config) settings() events.Settings {
	return events.Settings{
		MaxConns: c.MaxConns, AcceptRate: c.AcceptRate, AcceptBurst: c.AcceptBurst,
		PingIntervalMS: c.PingInterval.Milliseconds(), PongDeadlineMS: c.PongDeadline.Milliseconds(),
		IdleTimeoutMS: c.IdleTimeout.Milliseconds(),
	}
}
