package compose

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
)

// contractStreams are the names of every stream and bucket stream.
func contractStreams() []string {
	var out []string
	for _, s := range events.Streams {
		out = append(out, s.Name)
	}
	for _, b := range events.Buckets {
		out = append(out, "KV_"+b.Bucket)
	}
	return out
}

func jsOf(t *testing.T, c *conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(c.Conn)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestStolenGatewayCredentialStreams: as a gateway's user, the issue's
// attacks on streams fail: shrinking a stream (MaxAge 1s on the healer's
// bucket, one message in WSHEAL_HEALTH), a new stream whose subject
// transform forges healer switches, deleting or purging, deleting another
// service's consumer. The operator sees every stream unchanged.
func TestStolenGatewayCredentialStreams(t *testing.T) {
	url := authServer(t)
	gw, op := dial(t, url, "gateway"), dial(t, url, "operator")
	gjs, ojs := jsOf(t, gw), jsOf(t, op)
	for _, name := range contractStreams() {
		t.Run("update "+name, func(t *testing.T) {
			t.Parallel() // each refused call waits for a reply that never comes
			st, err := ojs.Stream(shortCtx(t), name)
			if err != nil {
				t.Fatal(err)
			}
			before := st.CachedInfo().Config
			forged := before
			forged.MaxAge, forged.MaxMsgs = time.Second, 1
			if _, err := gjs.UpdateStream(shortCtx(t), forged); err == nil {
				t.Fatalf("the gateway user updated %s", name)
			}
			if !gw.denied("publish", "$JS.API.STREAM.UPDATE."+name, waitFor(false)) {
				t.Fatalf("no permissions violation for the update of %s", name)
			}
			for _, f := range []func() error{
				func() error { return gjs.DeleteStream(shortCtx(t), name) },
				func() error {
					st, err := gjs.Stream(shortCtx(t), name)
					if err != nil {
						return err
					}
					return st.Purge(shortCtx(t))
				},
			} {
				if err := f(); err == nil {
					t.Fatalf("the gateway user deleted or purged %s", name)
				}
			}
			after, err := ojs.Stream(shortCtx(t), name)
			if err != nil {
				t.Fatal(err)
			}
			if got := after.CachedInfo().Config; got.MaxAge != before.MaxAge || got.MaxMsgs != before.MaxMsgs {
				t.Fatalf("%s changed: MaxAge %v MaxMsgs %d", name, got.MaxAge, got.MaxMsgs)
			}
		})
	}
	t.Run("no stream forging healer switches", func(t *testing.T) {
		_, err := gjs.CreateStream(shortCtx(t), jetstream.StreamConfig{Name: "FORGE", Subjects: []string{"wsheal.evt.gw.gw-1.forge"},
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: "wsheal.evt.gw.gw-1.forge", Destination: events.ControlSubject(events.ServiceHealer, events.VerbHealerDryRun)}})
		if err == nil || !gw.denied("publish", "$JS.API.STREAM.CREATE.FORGE", waitFor(false)) {
			t.Fatalf("the gateway user created a stream: %v", err)
		}
	})
	t.Run("no deleting the monitor's consumer", func(t *testing.T) {
		if _, err := ojs.CreateOrUpdateConsumer(shortCtx(t), events.StreamHealth, jetstream.ConsumerConfig{Durable: "wsheal-monitor"}); err != nil {
			t.Fatal(err)
		}
		if err := gjs.DeleteConsumer(shortCtx(t), events.StreamHealth, "wsheal-monitor"); err == nil {
			t.Fatal("the gateway user deleted the monitor's consumer")
		}
		if _, err := ojs.Consumer(shortCtx(t), events.StreamHealth, "wsheal-monitor"); err != nil {
			t.Fatalf("the monitor's consumer is gone: %v", err)
		}
	})
}

// TestStolenGatewayCredentialKeys: the gateways' credential writes gateway
// registry entries, desired states and command replies (of any node: the
// replicas of the scaled service share it), and never the healer's
// switches, a quarantine, an incident or the monitor's state.
func TestStolenGatewayCredentialKeys(t *testing.T) {
	url := authServer(t)
	gw := dial(t, url, "gateway")
	js := jsOf(t, gw)
	kv := func(bucket string) jetstream.KeyValue {
		b, err := js.KeyValue(shortCtx(t), bucket)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reg, _ := json.Marshal(events.Registration{Node: "gw-1", URL: "ws://127.0.0.1:8081/ws"})
	cases := []struct {
		bucket, key string
		allowed     bool
	}{
		{events.BucketFleet, "gw-1", true},
		{events.BucketDesired, "gw-1", true},
		{events.BucketCommands, "gw-1.cmd-1", true},
		{events.BucketFleet, "9b62ee626acf", true},
		{events.BucketDesired, events.QuarantineKey("gw-1"), false},
		{events.BucketDesired, events.QuarantineKey("9b62ee626acf"), false},
		{events.BucketHealer, "switches", false},
		{events.BucketIncidents, "inc-1", false},
		{events.BucketMonitor, "state", false},
	}
	for _, tc := range cases {
		t.Run(tc.bucket+"/"+tc.key, func(t *testing.T) {
			t.Parallel()
			_, err := kv(tc.bucket).Put(shortCtx(t), tc.key, reg)
			if tc.allowed && err != nil {
				t.Fatalf("the gateway user cannot write its own %s/%s: %v", tc.bucket, tc.key, err)
			}
			subject := "$KV." + tc.bucket + "." + tc.key
			if !tc.allowed && (err == nil || !gw.denied("publish", subject, waitFor(false))) {
				t.Fatalf("the gateway user wrote %s: %v", subject, err)
			}
		})
	}
}

// TestForgedSwitchesAndForeignReplies: a gateway cannot ask the healer to
// pause or go dry-run, and the data-plane app cannot read anyone's
// replies: an operator's request is answered, and the app's attempts to
// listen on _INBOX.> are refused and hear nothing.
func TestForgedSwitchesAndForeignReplies(t *testing.T) {
	url := authServer(t)
	gw := dial(t, url, "gateway")
	for _, verb := range []string{events.VerbHealerPause, events.VerbHealerDryRun, events.VerbHealerHandsOff, events.VerbHealerResume} {
		subject := events.ControlSubject(events.ServiceHealer, verb)
		if _, err := gw.Request(subject, []byte(`{"id":"x","on":true,"node":"gw-2"}`), time.Second); err == nil || !gw.denied("publish", subject, waitFor(false)) {
			t.Fatalf("the gateway user sent %s: %v", subject, err)
		}
	}

	healer := dial(t, url, "healer")
	svc, err := micro.AddService(healer.Conn, micro.Config{Name: events.ServiceName(events.ServiceHealer), Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	err = svc.AddGroup(events.ControlGroup(events.ServiceHealer)).AddEndpoint(events.VerbStatus,
		micro.HandlerFunc(func(r micro.Request) { events.Respond(r, map[string]string{"secret": "healer-state"}) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := healer.Flush(); err != nil {
		t.Fatal(err)
	}
	app := dial(t, url, "app")
	var snoops []*nats.Subscription
	for _, subject := range []string{"_INBOX.>", "_INBOX_operator.>", ">"} {
		sub, err := app.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		snoops = append(snoops, sub)
		if err := app.Flush(); err != nil {
			t.Fatal(err)
		}
		if !app.denied("subscription", subject, waitFor(false)) {
			t.Fatalf("app may subscribe %s", subject)
		}
	}
	op := dial(t, url, "operator")
	if _, err := op.Request(events.ControlSubject(events.ServiceHealer, events.VerbStatus), nil, 5*time.Second); err != nil {
		t.Fatalf("the operator's request was not answered: %v", err)
	}
	for _, sub := range snoops {
		if m, err := sub.NextMsg(300 * time.Millisecond); err == nil {
			t.Fatalf("app read %s: %s", m.Subject, m.Data)
		}
	}
}
