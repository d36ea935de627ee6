package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/natskit/embedded"

	"github.com/wsheal/wsheal/services/gateway"
)

// ErrServer wraps a reference server's failures.
var ErrServer = errors.New("suite: server")

// Ready is the line a server process prints on stdout once it serves.
type Ready struct {
	WS    string `json:"ws"`              // WebSocket URL for clients
	NATS  string `json:"nats,omitempty"`  // where publishers publish (NATS reference only)
	Pprof string `json:"pprof,omitempty"` // http://addr of /debug/pprof/
	// Publish is where publishers publish to a server that reads no NATS:
	// the floor's control address, Centrifugo's HTTP API URL.
	Publish string `json:"publish,omitempty"`
	PID     int    `json:"pid"`
}

// ServerMain runs one server process until stdin ends or ctx is done:
// args are the kind (wsheal, gws, nats, floor, or broker: a JetStream
// nats-server of its own for the gateways of the fleet figure) and its flags (--nats URL of the
// broker, --secret HS256 secret for wsheal and gws, --token for NATS).
// The wsheal gateway reads the rest of its config from WSHEAL_GATEWAY_*.
func ServerMain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a kind: wsheal, gws, nats or floor", ErrServer)
	}
	kind := args[0]
	fs := flag.NewFlagSet("suite-server", flag.ContinueOnError)
	natsURL := fs.String("nats", "", "broker URL (wsheal, gws)")
	secret := fs.String("secret", "", "HS256 secret for client tokens (wsheal, gws)")
	token := fs.String("token", "", "client token (nats)")
	listen := fs.String("listen", "127.0.0.1:0", "listen address (wsheal; a fixed port lets a restarted server take its place)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", ErrServer, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the parent closes stdin (or dies): stop
		_, _ = io.Copy(io.Discard, bufio.NewReader(stdin))
		cancel()
	}()
	pp, err := servePprof()
	if err != nil {
		return err
	}
	var ready Ready
	var run func() error
	switch kind {
	case ProtoGws:
		ref, err := startGwsRef(*natsURL, *secret)
		if err != nil {
			return err
		}
		defer ref.close()
		ready.WS, run = ref.url, func() error { <-ctx.Done(); return nil }
	case ProtoNATS:
		s, ws, err := startNATSRef(*token)
		if err != nil {
			return err
		}
		defer s.Shutdown()
		ready.WS, ready.NATS = ws, s.ClientURL()
		run = func() error { <-ctx.Done(); return nil }
	case ProtoFloor:
		f, err := startFloor(ctx)
		if err != nil {
			return err
		}
		ready.WS, ready.Publish = f.url(), f.control()
		run = func() error { <-ctx.Done(); return nil }
	case kindBroker:
		dir, err := os.MkdirTemp("", "wsheal-suite-broker-")
		if err != nil {
			return fmt.Errorf("%w: %v", ErrServer, err)
		}
		defer os.RemoveAll(dir)
		s, err := embedded.Start(embedded.Options{Port: -1, StoreDir: dir, Name: "suite-fleet-broker"})
		if err != nil {
			return fmt.Errorf("%w: broker: %v", ErrServer, err)
		}
		defer func() { s.Shutdown(); s.WaitForShutdown() }()
		ready.NATS = s.ClientURL()
		run = func() error { <-ctx.Done(); return nil }
	case ProtoWsheal:
		svc, done, err := startGateway(ctx, *listen)
		if err != nil {
			return err
		}
		ready.WS = "ws://" + svc.Addr() + "/ws"
		run = func() error { return <-done }
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrServer, kind)
	}
	ready.Pprof, ready.PID = pp, os.Getpid()
	if err := json.NewEncoder(stdout).Encode(ready); err != nil {
		return fmt.Errorf("%w: %v", ErrServer, err)
	}
	return run()
}

// servePprof serves /debug/pprof/ on a random port of 127.0.0.1.
func servePprof() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("%w: pprof listen: %v", ErrServer, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// startGateway runs a wsheal gateway configured from the environment,
// listening on listen.
func startGateway(ctx context.Context, listen string) (*gateway.Service, chan error, error) {
	cfg, err := gateway.ConfigFromEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrServer, err)
	}
	cfg.Listen = listen
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	svc, err := gateway.New(cfg, log)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrServer, err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
		return svc, done, nil
	case err := <-done:
		return nil, nil, fmt.Errorf("%w: gateway stopped: %v", ErrServer, err)
	case <-time.After(30 * time.Second):
		return nil, nil, fmt.Errorf("%w: gateway not ready within 30s", ErrServer)
	}
}

// startNATSRef runs a nats-server with its WebSocket listener; WebSocket
// clients authenticate with token, publishers on the client port need none.
func startNATSRef(token string) (*server.Server, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, MaxPayload: 1 << 20,
		Websocket: server.WebsocketOpts{Host: "127.0.0.1", Port: port, NoTLS: true, Token: token},
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, "", fmt.Errorf("%w: nats: %v", ErrServer, err)
	}
	s.Start() // returns once started; a Shutdown below cannot race it
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, "", fmt.Errorf("%w: nats not ready within 10s", ErrServer)
	}
	return s, fmt.Sprintf("ws://127.0.0.1:%d", port), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("%w: free port: %v", ErrServer, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
