package healer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer/state"
)

// switches reads the switches the healer stored.
func switches(t *testing.T, js jetstream.JetStream) state.Switches {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := state.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := st.Switches(ctx, state.Switches{})
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

// switchRequest sends a switch with a forged Nats-Request-Info header.
func switchRequest(t *testing.T, nc *nats.Conn, verb, body string) (*nats.Msg, error) {
	t.Helper()
	m := nats.NewMsg(events.ControlSubject(events.ServiceHealer, verb))
	m.Data = []byte(body)
	m.Header.Set("Nats-Request-Info", `{"acc":"$G","user":"forged-admin"}`)
	return nc.RequestMsg(m, 5*time.Second)
}

// TestSwitchNeedsIDAndRecordsIdentity: in one account (compose), a switch
// without an id is refused; one with an id is recorded as coming from the
// identity the permissions admit, never the request's "by" nor a header
// the client wrote itself.
func TestSwitchNeedsIDAndRecordsIdentity(t *testing.T) {
	srv := natstest.Start(t)
	startHealer(t, testConfig(t, srv))
	nc := natsConn(t, srv.URL())
	if err := request(t, nc, events.VerbHealerPause, events.HealerPauseCommand{Reason: "no id"}, nil); !isControlError(err, events.CodeBadRequest) {
		t.Fatalf("pause without id: %v, want bad_request", err)
	}
	on := true
	if err := request(t, nc, events.VerbHealerDryRun, events.HealerDryRunCommand{On: &on}, nil); !isControlError(err, events.CodeBadRequest) {
		t.Fatalf("dryrun without id: %v, want bad_request", err)
	}
	if _, err := switchRequest(t, nc, events.VerbHealerPause, `{"id":"p-1","reason":"drill","by":"mallory"}`); err != nil {
		t.Fatal(err)
	}
	_, js := srv.JetStream()
	sw := switches(t, js)
	if !sw.Paused || sw.By != "nats:operator" || sw.Claimed != "mallory" || sw.RequestID != "p-1" {
		t.Fatalf("switches %+v: want paused by nats:operator, claimed mallory, id p-1", sw)
	}
	// The same id again changes nothing, even asking the opposite.
	if err := request(t, nc, events.VerbHealerResume, events.HealerResumeCommand{ID: "p-1"}, nil); err != nil {
		t.Fatal(err)
	}
	if sw := switches(t, js); !sw.Paused {
		t.Fatal("a repeated request id changed the switches")
	}
}

// TestSwitchIdentityFromServer: when switches reach the healer through a
// service import from another account, nats-server writes the requester's
// authenticated identity in Nats-Request-Info over what the client sent;
// with TRUST_REQUEST_INFO the healer records that user.
func TestSwitchIdentityFromServer(t *testing.T) {
	dir := t.TempDir()
	conf := `listen: 127.0.0.1:-1
jetstream { store_dir: "` + filepath.ToSlash(filepath.Join(dir, "js")) + `" }
no_auth_user: healer
accounts {
  HEALER: {
    jetstream: enabled
    users: [{user: healer, password: healerPw1}]
    exports: [{service: "wsheal.ctl.healer.>"}]
  }
  OPS: {
    users: [{user: alice, password: alicePw1}]
    imports: [{service: {account: HEALER, subject: "wsheal.ctl.healer.>"}, share: true}]
  }
}
`
	path := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(ns.Shutdown)
	hc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("healer", "healerPw1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hc.Close)
	js, err := jetstream.New(hc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfigURL(t, ns.ClientURL())
	cfg.NATS.User, cfg.NATS.Password, cfg.TrustRequestInfo = "healer", "healerPw1", true
	startHealer(t, cfg)
	alice, err := nats.Connect(ns.ClientURL(), nats.UserInfo("alice", "alicePw1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alice.Close)
	natstest.Eventually(t, 10*time.Second, func() bool {
		_, err := switchRequest(t, alice, events.VerbHealerPause, `{"id":"p-2","by":"root"}`)
		return err == nil
	}, "the healer never answered through the import")
	sw := switches(t, js)
	if !sw.Paused || sw.By != "nats:alice@OPS" || strings.Contains(sw.By, "forged") {
		t.Fatalf("switches %+v: want by nats:alice@OPS from the server's header", sw)
	}
}
