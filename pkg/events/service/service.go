package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/redact"
)

// NATS is the connection config every service embeds in its own config
// struct, so that its variables carry the service's prefix
// (WSHEAL_GATEWAY_NATS_URL, WSHEAL_HEALER_NATS_USER, ...).
type NATS struct {
	URL      string `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URLs, comma-separated"`
	User     string `envconfig:"NATS_USER" desc:"NATS user (with NATS_PASSWORD)"`
	Password string `envconfig:"NATS_PASSWORD" desc:"NATS password"`
	Token    string `envconfig:"NATS_TOKEN" desc:"NATS token, instead of user and password"`
	Creds    string `envconfig:"NATS_CREDS" desc:"NATS credentials file (JWT + nkey)"`
	CA       string `envconfig:"NATS_CA" desc:"PEM CA file to verify the NATS server (turns TLS on)"`
	Cert     string `envconfig:"NATS_CERT" desc:"PEM client certificate for NATS mutual TLS"`
	Key      string `envconfig:"NATS_KEY" desc:"PEM key of NATS_CERT"`
	// InboxPrefix replaces _INBOX in this connection's reply subjects, so
	// that NATS permissions can give each service its own inboxes.
	InboxPrefix string `envconfig:"NATS_INBOX_PREFIX" desc:"prefix of this service's reply inboxes instead of _INBOX (lets NATS permissions keep replies private)"`
	// Replicas of the streams and buckets this service ensures (3 in the
	// clustered compose deployment).
	Replicas int `envconfig:"NATS_REPLICAS" default:"1" desc:"replicas of the JetStream streams and buckets (3 in a cluster)"`
	// Ensure is how the service meets the JetStream contract at start:
	// create (create or update every stream and bucket: needs the right to)
	// or check (only check they exist: a setup step with operator rights
	// created them, `wsheal setup-streams`).
	Ensure string `envconfig:"NATS_ENSURE" default:"create" desc:"create: create or update the streams and buckets at start; check: only check that they exist (least privilege: they were made by wsheal setup-streams)"`
}

// Validate checks the values that can be checked before connecting.
func (c NATS) Validate(prefix string) error {
	if c.URL == "" {
		return fmt.Errorf("%s_NATS_URL is empty", prefix)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("%s_NATS_REPLICAS=%d: want 1..5", prefix, c.Replicas)
	}
	if err := events.ValidateEnsureMode(c.Ensure); c.Ensure != "" && err != nil {
		return fmt.Errorf("%s_NATS_ENSURE=%q: want create or check", prefix, c.Ensure)
	}
	if c.InboxPrefix != "" && strings.ContainsAny(c.InboxPrefix, ".*> \t") {
		return fmt.Errorf("%s_NATS_INBOX_PREFIX=%q: one token without '.', '*', '>' or spaces", prefix, c.InboxPrefix)
	}
	if (c.Cert == "") != (c.Key == "") {
		return fmt.Errorf("%s_NATS_CERT and %s_NATS_KEY go together", prefix, prefix)
	}
	return nil
}

// Connect opens a connection that reconnects forever with jitter and logs
// its disconnects and reconnects. Its password and token are registered
// with redact, so no log line shows them.
func Connect(c NATS, name string, log zerolog.Logger) (*nats.Conn, error) {
	redact.Register(c.Password, c.Token)
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if !nc.IsClosed() { // Close reports a disconnect too
				log.Warn().Err(err).Msg("nats disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Error().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats async error")
		}),
	}
	switch {
	case c.Creds != "":
		opts = append(opts, nats.UserCredentials(c.Creds))
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	if c.CA != "" || c.Cert != "" {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(tc))
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("service: connect %s: %w", c.URL, err)
	}
	return nc, nil
}

func tlsConfig(c NATS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, fmt.Errorf("service: read NATS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("service: %s holds no PEM certificate", c.CA)
		}
		tc.RootCAs = pool
	}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("service: NATS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// EnsureContract waits for JetStream and ensures every stream and bucket,
// retrying until ctx ends (NATS may still be electing a leader). mode is
// events.EnsureCreate (create or update them) or events.EnsureCheck (only
// check that they exist, for a user without the right to create).
func EnsureContract(ctx context.Context, nc *nats.Conn, replicas int, mode string, log zerolog.Logger) (jetstream.JetStream, error) {
	return EnsureContractWith(ctx, nc, mode, events.EnsureOptions{Replicas: replicas}, log)
}

// EnsureContractWith is EnsureContract with every option of events.Ensure:
// the gateway and `wsheal dev` pass the channel stream's limits.
func EnsureContractWith(ctx context.Context, nc *nats.Conn, mode string, opt events.EnsureOptions, log zerolog.Logger) (jetstream.JetStream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("service: jetstream: %w", err)
	}
	delay := 250 * time.Millisecond
	for {
		ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = events.EnsureMode(ectx, js, mode, opt)
		cancel()
		if err == nil {
			return js, nil
		}
		log.Warn().Err(err).Str("ensure", mode).Dur("retry_in", delay).Msg("jetstream contract not ready")
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// Logger builds the root logger: JSON by default, "console" for people.
// Every line passes through redact.Writer: no secret reaches a log.
func Logger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	} else if format != "json" && format != "" {
		return zerolog.Nop(), fmt.Errorf("log format %q: want json or console", format)
	}
	return zerolog.New(redact.Writer(w)).Level(lvl).With().Timestamp().Logger(), nil
}

// Heartbeat publishes hb every interval until ctx ends. state, if not nil,
// is read before each beat.
func Heartbeat(ctx context.Context, em *events.Emitter, hb events.ServiceHeartbeat, interval time.Duration, state func() string, log zerolog.Logger) {
	hb.IntervalMS = interval.Milliseconds()
	hb.Version = events.Version
	if hb.StartedAt.IsZero() {
		hb.StartedAt = time.Now().UTC()
	}
	subject := events.ServiceHeartbeatSubject(hb.Service, hb.Instance)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if state != nil {
			hb.State = state()
		}
		beat := hb
		if _, err := em.Emit(ctx, subject, &beat); err != nil && ctx.Err() == nil {
			log.Debug().Err(err).Msg("heartbeat not sent")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Instance returns a default instance name: the host name, made a valid token.
func Instance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "local"
	}
	return strings.NewReplacer(".", "-", "*", "-", ">", "-", " ", "-").Replace(h)
}

// Log is the logging config every service embeds: LOG_LEVEL and LOG_FORMAT
// under the service's prefix.
type Log struct {
	Level  string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	Format string `envconfig:"LOG_FORMAT" default:"json" desc:"json or console"`
}

// Fleet is the config every reader of the fleet registry embeds: the
// hosts that registrations may point clients and probes at
// (WSHEAL_GATEWAY_FLEET_HOSTS, WSHEAL_MONITOR_FLEET_HOSTS,
// WSHEAL_HEALER_FLEET_HOSTS). A registration naming another host is
// ignored; empty allows any host.
type Fleet struct {
	FleetHosts events.Hosts `envconfig:"FLEET_HOSTS" desc:"host names the fleet registry may point clients and probes at, comma-separated (gw-1,.example.com matches sub-domains, {node} the registration's own node id); a registration naming another host is ignored; empty allows any"`
}
