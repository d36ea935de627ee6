package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an embedded server.
type Options struct {
	Host     string // default 127.0.0.1
	Port     int    // 0: default 4222; -1: random
	StoreDir string // JetStream storage; required
	Name     string
	// WebSocketPort, if non-zero, opens NATS's own WebSocket listener
	// (-1 for a random port), without TLS.
	WebSocketPort int
	// MonitorPort, if non-zero, serves the NATS monitoring endpoints.
	MonitorPort int
	// Cluster routes: name and listen port of this node plus its peers.
	ClusterName string
	ClusterPort int
	Routes      []string
	Logs        bool // print the server's log
}

// Start runs a server and waits until it accepts connections.
func Start(o Options) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("embedded: StoreDir is required")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName:         o.Name,
		Host:               o.Host,
		Port:               o.Port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		NoSigs:             true,
		MaxPayload:         1 << 20,
		HTTPHost:           o.Host,
		HTTPPort:           o.MonitorPort,
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  4 << 30,
	}
	if o.WebSocketPort != 0 {
		opts.Websocket = server.WebsocketOpts{Host: o.Host, Port: o.WebSocketPort, NoTLS: true}
	}
	if o.ClusterName != "" {
		opts.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: o.Host, Port: o.ClusterPort}
		opts.Routes = server.RoutesFromStr(joinComma(o.Routes))
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if o.Logs {
		s.ConfigureLogger()
	}
	// Start returns once the server has started up (JetStream enabled,
	// listeners open). Running it in line, not in a goroutine, keeps a
	// Shutdown after a failed readiness check from racing the startup
	// still under way.
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("embedded: nats-server not ready within 10s")
	}
	return s, nil
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}
