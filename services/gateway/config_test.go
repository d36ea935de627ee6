package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("WSHEAL_GATEWAY_NODE", "gw-env")
	t.Setenv("WSHEAL_GATEWAY_LISTEN", "0.0.0.0:9000")
	t.Setenv("WSHEAL_GATEWAY_PUBLIC_URL", "ws://gw-env:9000/ws")
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node != "gw-env" || cfg.MaxMessage != 65536 || cfg.PingInterval != 5*time.Second ||
		cfg.PongDeadline != 5*time.Second || cfg.HeartbeatInterval != time.Second || cfg.Auth != "none" {
		t.Fatalf("config = %+v", cfg)
	}
	if l := cfg.Limits; l.MaxConns != 10000 || l.SendQueue != 1024 || l.SendQueueBytes != 4<<20 ||
		l.WriteTimeout != 10*time.Second || l.MemoryLimit != 0 || l.IdleTimeout != 5*time.Minute {
		t.Fatalf("pool defaults = %+v", l)
	}
	e := cfg.Edge
	if e.MaxConnsPerIP != 256 || e.AcceptRatePerIP != 20 || e.AuthFailuresPerIP != 10 || e.SocketsPerIP != 320 || e.JWTAllowNoExp ||
		e.HTTP.IdleTimeout != time.Minute || e.HTTP.ReadTimeout != 10*time.Second || e.AllowedOrigins != "" {
		t.Fatalf("edge defaults = %+v", e)
	}
}

// TestConfigScaledReplica: with no node id set, one config serves every
// replica: the node is the host name, and {node} in the URLs names it.
func TestConfigScaledReplica(t *testing.T) {
	t.Setenv("WSHEAL_GATEWAY_LISTEN", "0.0.0.0:8080")
	t.Setenv("WSHEAL_GATEWAY_PUBLIC_URL", "ws://127.0.0.1:8080/node/{node}/ws")
	t.Setenv("WSHEAL_GATEWAY_INTERNAL_URL", "http://{node}:8080")
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	host := service.Instance()
	if cfg.Node != host || cfg.PublicURL != "ws://127.0.0.1:8080/node/"+host+"/ws" || cfg.InternalURL != "http://"+host+":8080" {
		t.Fatalf("node %q, public %q, internal %q: want the host name %q in each", cfg.Node, cfg.PublicURL, cfg.InternalURL, host)
	}
}

func TestConfigValidate(t *testing.T) {
	ns := natstest.Start(t)
	cases := []struct {
		name, env string
		tweak     func(*Config)
	}{
		{"node", "NODE", func(c *Config) { c.Node = "a.b" }},
		{"listen", "LISTEN", func(c *Config) { c.Listen = "nowhere" }},
		{"url", "PUBLIC_URL", func(c *Config) { c.PublicURL = "http://x/ws" }},
		{"auth", "AUTH", func(c *Config) { c.Auth = "basic" }},
		{"secret", "JWT_SECRET", func(c *Config) { c.Auth, c.JWTSecret = "jwt", "short" }},
		{"tls", "TLS_CERT", func(c *Config) { c.TLSCert = "x.pem" }},
		{"queue", "SEND_QUEUE", func(c *Config) { c.SendQueue = 0 }},
		{"ping", "PING_INTERVAL", func(c *Config) { c.PingInterval = 0 }},
		{"rate", "ACCEPT_RATE", func(c *Config) { c.AcceptRate = -1 }},
		{"inbound rate", "INBOUND_RATE", func(c *Config) { c.InboundRate = -1 }},
		{"event rate", "CONN_EVENT_RATE", func(c *Config) { c.ConnEventRate = 0 }},
		{"subs", "MAX_SUBS", func(c *Config) { c.MaxSubs = 0 }},
		{"proxies", "TRUSTED_PROXIES", func(c *Config) { c.TrustedProxies = "10.0.0.0/33" }},
		{"per ip", "MAX_CONNS_PER_IP", func(c *Config) { c.MaxConnsPerIP = -1 }},
		{"per ip rate", "ACCEPT_RATE_PER_IP", func(c *Config) { c.AcceptRatePerIP = -1 }},
		{"memory", "MEMORY_LIMIT", func(c *Config) { c.MemoryLimit = 1 << 20 }},
		{"queue bytes", "SEND_QUEUE_BYTES", func(c *Config) { c.SendQueueBytes = 10 }},
		{"write timeout", "WRITE_TIMEOUT", func(c *Config) { c.WriteTimeout = time.Millisecond }},
		{"idle", "HTTP_IDLE_TIMEOUT", func(c *Config) { c.HTTP.IdleTimeout = time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(ns, "gw-v")
			cfg.PublicURL = "ws://127.0.0.1:1/ws"
			tc.tweak(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "WSHEAL_GATEWAY_"+tc.env) {
				t.Fatalf("err = %v, want one naming WSHEAL_GATEWAY_%s", err, tc.env)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-tls")
	cfg.TLSCert, cfg.TLSKey = selfSigned(t)
	s := startNode(t, cfg)
	if !strings.HasPrefix(s.URL(), "wss://") {
		t.Fatalf("url %s", s.URL())
	}
	c := &client{t: t, frames: make(chan frame.Server, 10), closed: make(chan struct{})}
	ws, _, err := gws.NewClient(c, &gws.ClientOption{Addr: s.URL(), TlsConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.NetConn().Close() })
	go ws.ReadLoop()
	if f := c.expect(frame.OpHello); f.Node != "gw-tls" {
		t.Fatalf("hello = %+v", f)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "EC PRIVATE KEY", kb)
	return certFile, keyFile
}
