package kubernetes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// nats/server.conf and nats/auth.conf load in a real nats-server with the
// environment the StatefulSet gives a pod, and the shared gateway user may
// do a node's work but never send a control request or touch a stream.
func TestNATSConfigLoadsAndLimitsTheGatewayUser(t *testing.T) {
	env := map[string]string{
		"NATS_SERVER_NAME": "nats-0", "NATS_ROUTE_PASSWORD": "routepw",
		"NATS_ROUTE_1": "nats-route://route:routepw@127.0.0.1:1", "NATS_ROUTE_2": "nats-route://route:routepw@127.0.0.1:2",
		"NATS_ROUTE_3": "nats-route://route:routepw@127.0.0.1:3",
	}
	for _, u := range []string{"GATEWAY", "MONITOR", "HEALER", "NOTIFIER", "OPERATOR", "APP"} {
		env["WSHEAL_"+u+"_PASSWORD"] = strings.ToLower(u) + "pw"
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile(filepath.Join("nats", "server.conf"))
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	for _, u := range opts.Users {
		users[u.Username] = true
	}
	for _, want := range []string{"gateway", "monitor", "healer", "notifier", "operator", "app"} {
		if !users[want] {
			t.Errorf("no NATS user %s in auth.conf (users: %v)", want, users)
		}
	}
	// Serve it alone: no routes, ports of the test's own.
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
	opts.StoreDir = t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	denied := make(chan error, 16)
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("gateway", "gatewaypw"), nats.CustomInboxPrefix("_INBOX_gateway"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.SubscribeSync("wsheal.ctl.gw.gw-0.>"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("wsheal.evt.gw.gw-0.heartbeat", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-denied:
		t.Fatalf("a gateway's own work was denied: %v", err)
	default:
	}
	for _, subj := range []string{"wsheal.ctl.healer.pause", "wsheal.evt.anomaly.node_down.gw-1", "$JS.API.STREAM.DELETE.WSHEAL_EVENTS"} {
		if err := nc.Publish(subj, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-denied:
			if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(err.Error(), "Permissions Violation") {
				t.Fatalf("%s: %v", subj, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the gateway user may publish %s", subj)
		}
	}
	if _, err := nats.Connect(s.ClientURL(), nats.UserInfo("gateway", "wrong")); err == nil {
		t.Fatal("a wrong password connected")
	}
}

// The control-plane users (monitor, healer, notifier, operator, app) are
// compose's, byte for byte: a right granted or taken away there (and
// tested there, deploy/compose/natsauth_test.go) holds here too.
func TestControlPlaneUsersAreCompose(t *testing.T) {
	const mark = "    # ---------------------------------------------------------------- monitor"
	tail := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(b), mark)
		if i < 0 {
			t.Fatalf("%s: no monitor block (%q)", path, mark)
		}
		return string(b[i:])
	}
	k8s, compose := tail(filepath.Join("nats", "auth.conf")), tail(filepath.Join("..", "compose", "nats", "auth.conf"))
	if k8s != compose {
		kl, cl := strings.Split(k8s, "\n"), strings.Split(compose, "\n")
		for i := range min(len(kl), len(cl)) {
			if kl[i] != cl[i] {
				t.Fatalf("nats/auth.conf's control-plane users differ from deploy/compose/nats/auth.conf's at line %d of the block:\n k8s:     %s\n compose: %s", i+1, kl[i], cl[i])
			}
		}
		t.Fatalf("nats/auth.conf's control-plane users differ from compose's in length (%d vs %d lines)", len(kl), len(cl))
	}
}
