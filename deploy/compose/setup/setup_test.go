package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func TestSecretsAgreeAndAreKept(t *testing.T) {
	dir := t.TempDir()
	written, err := writeSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 9 {
		t.Fatalf("wrote %d files, want 9: %v", len(written), written)
	}
	if st, err := os.Stat(filepath.Join(dir, "metrics.token")); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("metrics.token: %v %v: Prometheus's container user must read it", st.Mode(), err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("secrets dir: %v %v, want 0700", st.Mode(), err)
	}
	natsEnv := mustEnv(t, filepath.Join(dir, "nats.env"))
	for _, u := range users {
		svc := mustEnv(t, filepath.Join(dir, u.name+".env"))
		if svc[u.prefix+"_NATS_USER"] != u.name {
			t.Errorf("%s.env: user %q", u.name, svc[u.prefix+"_NATS_USER"])
		}
		pw := svc[u.prefix+"_NATS_PASSWORD"]
		if len(pw) < 32 || pw != natsEnv[passwordVar(u.name)] {
			t.Errorf("%s.env password %q does not match nats.env %q", u.name, pw, natsEnv[passwordVar(u.name)])
		}
	}
	gw1, mon, bench := mustEnv(t, filepath.Join(dir, "gateway.env")),
		mustEnv(t, filepath.Join(dir, "monitor.env")), mustEnv(t, filepath.Join(dir, "bench.env"))
	notifier := mustEnv(t, filepath.Join(dir, "notifier.env"))
	switch jwt := gw1["WSHEAL_GATEWAY_JWT_SECRET"]; {
	case len(jwt) < 32 || bench["WSHEAL_BENCH_JWT_SECRET"] != jwt:
		t.Errorf("the gateways and the demo clients do not share one JWT secret")
	case len(notifier["WSHEAL_NOTIFIER_WEBHOOK_SECRET"]) < 32:
		t.Errorf("no webhook signing secret")
	case len(mon["WSHEAL_MONITOR_DASHBOARD_TOKEN"]) < 32 || len(mon["WSHEAL_MONITOR_METRICS_TOKEN"]) < 32 || mon["WSHEAL_MONITOR_METRICS_TOKEN"] != gw1["WSHEAL_GATEWAY_METRICS_TOKEN"]:
		t.Errorf("dashboard or metrics token missing")
	case mustEnv(t, filepath.Join(dir, "healer.env"))["WSHEAL_HEALER_METRICS_TOKEN"] != gw1["WSHEAL_GATEWAY_METRICS_TOKEN"] ||
		notifier["WSHEAL_NOTIFIER_METRICS_TOKEN"] != gw1["WSHEAL_GATEWAY_METRICS_TOKEN"] || string(mustRead(t, filepath.Join(dir, "metrics.token"))) != gw1["WSHEAL_GATEWAY_METRICS_TOKEN"]:
		t.Errorf("healer, notifier or Prometheus (metrics.token) do not share the metrics token")
	case gw1["WSHEAL_GATEWAY_NATS_PASSWORD"] == mon["WSHEAL_MONITOR_NATS_PASSWORD"]:
		t.Errorf("the gateways and the monitor share a NATS password")
	}
	if !strings.Contains(natsEnv["NATS_ROUTE_2"], natsEnv["NATS_ROUTE_PASSWORD"]+"@nats-2:6222") {
		t.Errorf("route URL %q lacks the route credentials", natsEnv["NATS_ROUTE_2"])
	}

	t.Run("kept on a second run", func(t *testing.T) {
		again, err := writeSecrets(dir)
		if err != nil || len(again) != 0 {
			t.Fatalf("second run wrote %v, %v", again, err)
		}
	})
	t.Run("an older file gets the new variables, edits kept", func(t *testing.T) {
		path := filepath.Join(dir, "notifier.env")
		old := "WSHEAL_NOTIFIER_NATS_USER=notifier\nWSHEAL_NOTIFIER_NATS_PASSWORD=" + natsEnv[passwordVar("notifier")] +
			"\nWSHEAL_NOTIFIER_SLACK_URL=https://hooks.slack.com/services/mine\n"
		if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := writeSecrets(dir); err != nil {
			t.Fatal(err)
		}
		got := mustEnv(t, path)
		if got["WSHEAL_NOTIFIER_SLACK_URL"] != "https://hooks.slack.com/services/mine" || len(got["WSHEAL_NOTIFIER_WEBHOOK_SECRET"]) < 32 {
			t.Fatalf("notifier.env after an upgrade: %v", got)
		}
	})
	t.Run("nats.env rebuilt from the services' files", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "nats.env")); err != nil {
			t.Fatal(err)
		}
		if _, err := writeSecrets(dir); err != nil {
			t.Fatal(err)
		}
		rebuilt := mustEnv(t, filepath.Join(dir, "nats.env"))
		for _, u := range users {
			if rebuilt[passwordVar(u.name)] != natsEnv[passwordVar(u.name)] {
				t.Errorf("%s password changed when nats.env was rebuilt", u.name)
			}
		}
	})
}

func mustEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	m, err := readEnv(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPasswordIsPlain(t *testing.T) {
	for range 50 {
		pw, err := password()
		if err != nil {
			t.Fatal(err)
		}
		if pw[0] != 'w' || len(pw) != 33 || strings.ContainsAny(pw, "$#=\"' \\") {
			t.Fatalf("password %q", pw)
		}
	}
}

// setEnv exports the generated nats.env, as compose does for the servers.
func setEnv(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := writeSecrets(dir); err != nil {
		t.Fatal(err)
	}
	env := mustEnv(t, filepath.Join(dir, "nats.env"))
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	return env
}

// TestServerConfigLoads: the cluster config with the generated secrets
// names three routes with credentials and every user.
func TestServerConfigLoads(t *testing.T) {
	setEnv(t, t.TempDir())
	opts, err := server.ProcessConfigFile(filepath.Join("..", "nats", "server.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "nats-1" || len(opts.Routes) != 3 || opts.Cluster.Username != "route" {
		t.Fatalf("name %q, %d routes, route user %q", opts.ServerName, len(opts.Routes), opts.Cluster.Username)
	}
	for _, r := range opts.Routes {
		if pw, _ := r.User.Password(); pw != opts.Cluster.Password {
			t.Fatalf("route %s lacks the route password", r.Host)
		}
	}
	if len(opts.Users) != 6 || !opts.JetStream { // gateway, monitor, healer, notifier, operator, app
		t.Fatalf("%d users, jetstream %v", len(opts.Users), opts.JetStream)
	}
}

// TestTLSConfigServes runs server-tls.conf (paths moved to a temporary
// directory, cluster off) with generated certificates, and connects the
// way a service does: verifying the server against the local CA.
func TestTLSConfigServes(t *testing.T) {
	dir := t.TempDir()
	env := setEnv(t, filepath.Join(dir, "secrets"))
	tlsDir := filepath.Join(dir, "tls")
	if made, err := writeCerts(tlsDir); err != nil || !made {
		t.Fatalf("certs: %v %v", made, err)
	}
	if made, err := writeCerts(tlsDir); err != nil || made {
		t.Fatalf("second run replaced the certificates: %v %v", made, err)
	}
	conf, err := os.ReadFile(filepath.Join("..", "nats", "server-tls.conf"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(conf), "/etc/nats/tls", filepath.ToSlash(tlsDir))
	s = strings.ReplaceAll(s, "/data/jetstream", filepath.ToSlash(filepath.Join(dir, "js")))
	auth, err := os.ReadFile(filepath.Join("..", "nats", "auth.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"server-tls.conf": []byte(s), "auth.conf": auth} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "server-tls.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	opts.Cluster = server.ClusterOpts{}
	opts.Routes = nil
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(srv.Shutdown)
	url := strings.Replace(srv.ClientURL(), "nats://", "tls://", 1)

	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem: %v", err)
	}
	nc, err := nats.Connect(url, nats.UserInfo("operator", env["WSHEAL_OPERATOR_PASSWORD"]),
		nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("TLS connect verifying the local CA: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(url, nats.UserInfo("operator", env["WSHEAL_OPERATOR_PASSWORD"]),
		nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12})); err == nil {
		nc.Close()
		t.Fatal("a client that does not trust the local CA connected")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
