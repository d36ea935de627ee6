package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

// authServer runs a single JetStream server with the deployment's users
// and permissions (nats/auth.conf, unchanged) and returns its URL. The
// operator has created the contract, as the compose setup step does.
func authServer(t *testing.T) string {
	t.Helper()
	url, _ := authServerLog(t)
	return url
}

// authServerLog is authServer with the server's permission violations.
func authServerLog(t *testing.T) (string, *serverLog) {
	t.Helper()
	dir := t.TempDir()
	auth, err := os.ReadFile(filepath.Join("nats", "auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for user, env := range users {
		t.Setenv(env, password(user))
	}
	conf := "listen: 127.0.0.1:-1\njetstream { store_dir: " + strings.ReplaceAll(filepath.Join(dir, "js"), `\`, `/`) + " }\ninclude ./auth.conf\n"
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), auth, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "server.conf"))
	if err != nil {
		t.Fatalf("nats/auth.conf does not load: %v", err)
	}
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	log := &serverLog{}
	srv.SetLogger(log, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	setupStreams(t, srv.ClientURL())
	return srv.ClientURL(), log
}

// serverLog collects the permission violations a server logs.
type serverLog struct {
	mu         sync.Mutex
	violations []string
}

func (l *serverLog) record(format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	if strings.Contains(line, "Permissions Violation") {
		l.mu.Lock()
		l.violations = append(l.violations, line)
		l.mu.Unlock()
	}
}

func (l *serverLog) Noticef(format string, v ...any) { l.record(format, v...) }
func (l *serverLog) Warnf(format string, v ...any)   { l.record(format, v...) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.record(format, v...) }
func (l *serverLog) Errorf(format string, v ...any)  { l.record(format, v...) }
func (l *serverLog) Debugf(format string, v ...any)  { l.record(format, v...) }
func (l *serverLog) Tracef(format string, v ...any)  { l.record(format, v...) }

// list returns the violations logged so far.
func (l *serverLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.violations)
}

// setupStreams creates the contract as the operator, as the compose
// service setup-streams does before the services start.
func setupStreams(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo("operator", password("operator")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatalf("the operator cannot create the contract: %v", err)
	}
}

// password is a test user's password.
func password(user string) string { return "pw" + strings.ReplaceAll(user, "-", "") + "Secret42" }
