package natstest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/embedded"
)

// Server is a running test server.
type Server struct {
	*server.Server
	t    testing.TB
	opts embedded.Options
}

// Option tunes Start.
type Option func(*embedded.Options)

// WithWebSocket opens NATS's own WebSocket listener on a random port.
func WithWebSocket() Option { return func(o *embedded.Options) { o.WebSocketPort = -1 } }

// Start runs a server for the test and ensures the wsheal streams and
// buckets (one replica).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := embedded.Options{Port: -1, StoreDir: t.TempDir()}
	for _, f := range opts {
		f(&o)
	}
	ts := &Server{t: t, opts: o}
	ts.start()
	t.Cleanup(ts.Stop)
	js, err := jetstream.New(ts.Conn())
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return ts
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := embedded.Start(s.opts)
	if err != nil {
		s.t.Fatalf("natstest: %v", err)
	}
	s.Server = srv
	// Keep the port so that Restart comes back where clients expect it.
	if a, ok := srv.Addr().(*net.TCPAddr); ok {
		s.opts.Port = a.Port
	}
}

// URL is the client URL, nats://127.0.0.1:<port>.
func (s *Server) URL() string { return s.ClientURL() }

// Stop shuts the server down; safe to call twice.
func (s *Server) Stop() {
	if s.Server != nil && s.Running() {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart stops the server and starts it again on the same port with the
// same storage: a NATS restart as clients see it.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Conn opens a client connection closed by t.Cleanup; it reconnects
// forever so that tests that restart the server keep it.
func (s *Server) Conn(opts ...nats.Option) *nats.Conn {
	s.t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(s.URL(), opts...)
	if err != nil {
		s.t.Fatalf("natstest: connect: %v", err)
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// JetStream opens a connection and returns its JetStream context.
func (s *Server) JetStream() (*nats.Conn, jetstream.JetStream) {
	s.t.Helper()
	nc := s.Conn()
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// WebSocketURL is ws://host:port of NATS's own WebSocket listener, if
// started WithWebSocket.
func (s *Server) WebSocketURL() string {
	return s.WebsocketURL()
}

// Eventually polls cond every 10 ms until it holds or timeout passes, then
// fails the test with msg. Tests poll; they never assert after a bare sleep.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	Until(t, timeout, cond, func() string { return fmt.Sprintf(msg, args...) })
}

// Until is Eventually with a failure message computed when it fails, so
// that it can say what the state was at the deadline.
func Until(t testing.TB, timeout time.Duration, cond func() bool, failure func() string) {
	t.Helper()
	Poll(t, timeout, 10*time.Millisecond, cond, failure)
}

// Poll is Until with its own interval, for conditions that are dear to
// ask (a container, an HTTP API): cond runs every interval until it holds
// or timeout passes.
func Poll(t testing.TB, timeout, every time.Duration, cond func() bool, failure func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("natstest: condition not met within %v: %s", timeout, failure())
		}
		time.Sleep(every) // the polling interval: the one sleep of a poll
	}
}
