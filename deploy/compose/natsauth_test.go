package compose

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/wsheal/wsheal/pkg/events"
)

// users are the NATS users of nats/auth.conf and the environment variable
// holding each one's password.
var users = map[string]string{
	"gateway":  "WSHEAL_GATEWAY_PASSWORD",
	"monitor":  "WSHEAL_MONITOR_PASSWORD",
	"healer":   "WSHEAL_HEALER_PASSWORD",
	"notifier": "WSHEAL_NOTIFIER_PASSWORD",
	"operator": "WSHEAL_OPERATOR_PASSWORD",
	"app":      "WSHEAL_APP_PASSWORD",
}

// conn connects as user and records the permission violations the server
// reports to it.
type conn struct {
	*nats.Conn
	mu         sync.Mutex
	violations []string
	added      chan struct{} // a violation was recorded (capacity 1)
}

func dial(t *testing.T, url, user string) *conn {
	t.Helper()
	c := &conn{added: make(chan struct{}, 1)}
	opts := []nats.Option{nats.UserInfo(user, password(user)), nats.Name("test-" + user)}
	if user != "operator" {
		// As in docker-compose.yml: each user replies on its own inboxes.
		opts = append(opts, nats.CustomInboxPrefix(inboxPrefix(user)))
	}
	nc, err := nats.Connect(url, append(opts,
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.violations = append(c.violations, err.Error())
			c.mu.Unlock()
			select {
			case c.added <- struct{}{}:
			default:
			}
		}))...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c.Conn = nc
	return c
}

// inboxPrefix is a user's inbox prefix in docker-compose.yml: _INBOX_gw
// for the gateways' user, _INBOX_<user> for the others.
func inboxPrefix(user string) string {
	if user == "gateway" {
		return "_INBOX_gw"
	}
	return "_INBOX_" + user
}

// denied reports whether the server refused verb ("publish" or
// "subscription") on subject to this connection, waiting up to wait for
// the asynchronous error. The error is read before the reply to the
// Flush that follows the operation, so a short wait is enough to tell.
func (c *conn) denied(verb, subject string, wait time.Duration) bool {
	want := strings.ToLower("violation for " + verb + ` to "` + subject + `"`)
	seen := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, v := range c.violations {
			if strings.Contains(strings.ToLower(v), want) {
				return true
			}
		}
		return false
	}
	timeout := time.After(wait)
	for !seen() {
		select {
		case <-c.added:
		case <-timeout:
			return seen()
		}
	}
	return true
}

func TestNATSPermissionsPublish(t *testing.T) {
	url := authServer(t)
	watcher := dial(t, url, "operator")
	sub, err := watcher.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user, subject string
		allowed       bool
	}{
		// One user for every scaled replica: it speaks for any gateway node.
		{"gateway", events.HeartbeatSubject("0d1e1e40b268"), true},
		{"gateway", events.HealthSubject("9b62ee626acf"), true},
		{"gateway", events.ChannelSubject("room"), true},
		{"gateway", events.AnomalySubject("node_down", "gw-2"), false},
		{"gateway", events.GatewayControlSubject("gw-2", "drain"), false},
		{"gateway", events.ControlSubject("healer", "pause"), false},
		{"gateway", events.IncidentSubject("inc-1"), false},
		{"monitor", events.AnomalySubject("node_down", "gw-2"), true},
		{"monitor", events.ServiceHeartbeatSubject("monitor", "m1"), true},
		{"monitor", events.ServiceHeartbeatSubject("healer", "h1"), false},
		{"monitor", events.GatewayControlSubject("gw-2", "drain"), false},
		{"monitor", events.ChannelSubject("room"), false},
		{"monitor", events.ControlSubject("notifier", events.VerbIncidentList), true},
		{"monitor", events.ControlSubject("notifier", events.VerbReview), true},
		{"monitor", events.ControlSubject("notifier", events.VerbResolve), false},
		{"monitor", events.ControlSubject("healer", events.VerbHealerActions), true},
		{"monitor", events.ControlSubject("healer", "pause"), false},
		{"healer", events.GatewayControlSubject("gw-2", "drain"), true},
		{"healer", events.RemediationSubject("restart", "gw-2"), true},
		{"healer", events.AnomalySubject("node_down", "gw-2"), false},
		{"healer", events.ControlSubject("dev", "restart"), false},
		{"healer", events.ControlSubject("healer", events.VerbStatus), true},
		{"healer", events.ControlSubject("healer", "pause"), false},
		{"notifier", events.ControlSubject("notifier", events.VerbStatus), true},
		{"notifier", events.ControlSubject("notifier", "resolve"), false},
		{"healer", events.ChannelSubject("room"), false},
		{"notifier", events.IncidentSubject("inc-1"), true},
		{"notifier", events.ReviewSubject("inc-1"), true},
		{"notifier", events.OutboxSubject("slack"), true},
		{"notifier", events.GatewayControlSubject("gw-2", "drain"), false},
		{"notifier", events.AnomalySubject("node_down", "gw-2"), false},
		{"operator", events.GatewayControlSubject("gw-2", "drain"), true},
		{"operator", events.ControlSubject("notifier", "list"), true},
		{"operator", events.AnomalySubject("node_down", "gw-2"), false},
		{"app", events.ChannelSubject("room"), true},
		{"app", events.GatewayControlSubject("gw-2", "drain"), false},
		{"app", events.ControlSubject("notifier", "list"), false},
		{"app", events.HeartbeatSubject("gw-1"), false},
		{"app", "$JS.API.STREAM.DELETE." + events.StreamChannels, false},
		{"gateway", "$JS.API.STREAM.DELETE." + events.StreamChannels, false},
		{"healer", "$JS.API.STREAM.PURGE." + events.StreamIncidents, false},
		{"monitor", "$JS.API.STREAM.CREATE.SNOOP", false},
	}
	conns := map[string]*conn{}
	for user := range users {
		conns[user] = dial(t, url, user)
	}
	for _, tc := range cases {
		t.Run(tc.user+"/"+tc.subject, func(t *testing.T) {
			c := conns[tc.user]
			if err := c.Publish(tc.subject, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			if tc.allowed && !received(sub, tc.subject) {
				t.Fatalf("%s published %s but the operator did not see it", tc.user, tc.subject)
			}
			if got := c.denied("publish", tc.subject, waitFor(tc.allowed)); got == tc.allowed {
				t.Fatalf("%s publish %s: denied=%v, want allowed=%v", tc.user, tc.subject, got, tc.allowed)
			}
		})
	}
}

// waitFor is how long to wait for a violation: briefly when none is
// expected (it would already have arrived), long when one is.
func waitFor(allowed bool) time.Duration {
	if allowed {
		return 200 * time.Millisecond
	}
	return 3 * time.Second
}

// received waits for subject on sub, skipping other messages.
func received(sub *nats.Subscription, subject string) bool {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return false
		}
		if m.Subject == subject {
			return true
		}
	}
	return false
}

func TestNATSPermissionsSubscribe(t *testing.T) {
	url := authServer(t)
	cases := []struct {
		user, subject string
		allowed       bool
	}{
		{"gateway", events.GatewayControlGroup("gw-1") + ".>", true},
		{"gateway", "$SRV.>", true},
		{"gateway", events.ControlSubject("healer", "pause"), false},
		{"gateway", events.AnomaliesAll, false},
		{"gateway", "_INBOX_gw.>", true},
		{"gateway", "_INBOX_gw-2.>", false},
		{"gateway", "_INBOX_operator.>", false},
		{"gateway", events.GatewayControlGroup("9b62ee626acf") + ".>", true},
		{"gateway", events.ControlGroup("healer") + ".>", false},
		{"gateway", "wslive.>", true},
		{"app", "wslive.>", true},
		{"app", "_INBOX_app.>", true},
		{"app", "_INBOX.>", false},
		{"app", "_INBOX_healer.>", false},
		{"gateway", "_INBOX.>", false},
		{"gateway", "_INBOX_healer.>", false},
		{"monitor", "_INBOX_notifier.>", false},
		{"healer", "_INBOX_healer.>", true},
		{"monitor", events.EventsAll, true},
		{"monitor", events.ControlGroup("monitor") + ".>", true},
		{"monitor", events.ControlGroup("healer") + ".>", false},
		{"healer", events.ControlGroup("healer") + ".>", true},
		{"healer", events.GatewayControlGroup("gw-1") + ".>", false},
		{"notifier", events.OutboxAll, true},
		{"notifier", events.ControlAll, false},
		{"app", events.DataAll, true},
		{"app", events.EventsAll, false},
		{"app", events.ControlAll, false},
		{"app", "$SRV.PING", false},
		{"operator", ">", true},
	}
	for _, tc := range cases {
		t.Run(tc.user+"/"+tc.subject, func(t *testing.T) {
			c := dial(t, url, tc.user)
			if _, err := c.SubscribeSync(tc.subject); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := c.denied("subscription", tc.subject, waitFor(tc.allowed)); got == tc.allowed {
				t.Fatalf("%s subscribe %s: denied=%v, want allowed=%v", tc.user, tc.subject, got, tc.allowed)
			}
		})
	}
}

// TestNATSPermissionsJetStream: every service checks the contract
// (NATS_ENSURE=check) and none may create, update or delete a stream or
// bucket: only the operator ensures it (`wsheal setup-streams`).
func TestNATSPermissionsJetStream(t *testing.T) {
	url := authServer(t)
	for _, user := range []string{"gateway", "monitor", "healer", "notifier", "operator"} {
		t.Run(user, func(t *testing.T) {
			c := dial(t, url, user)
			js, err := jetstream.New(c.Conn)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := events.Check(ctx, js); err != nil {
				t.Fatalf("%s cannot check the contract: %v", user, err)
			}
			ectx, ecancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer ecancel()
			err = events.Ensure(ectx, js, events.EnsureOptions{Replicas: 1})
			if user == "operator" {
				if err != nil {
					t.Fatalf("the operator cannot ensure the contract: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s may create or update the streams", user)
			}
			dctx, dcancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer dcancel()
			if err := js.DeleteStream(dctx, events.StreamIncidents); err == nil {
				t.Fatalf("%s deleted stream %s", user, events.StreamIncidents)
			}
		})
	}
}

// TestNATSPermissionsControl: a gateway's micro service answers the
// healer and the operator, also through $SRV discovery, and never the
// monitor or a data-plane app.
func TestNATSPermissionsControl(t *testing.T) {
	url := authServer(t)
	gw := dial(t, url, "gateway")
	svc, err := micro.AddService(gw.Conn, micro.Config{Name: events.ServiceName(events.ServiceGateway), Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	err = svc.AddGroup(events.GatewayControlGroup("gw-1")).AddEndpoint(events.VerbStatus,
		micro.HandlerFunc(func(r micro.Request) { events.Respond(r, map[string]string{"node": "gw-1"}) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Flush(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user, subject string
		allowed       bool
	}{
		{"healer", events.GatewayControlSubject("gw-1", events.VerbStatus), true},
		{"operator", events.GatewayControlSubject("gw-1", events.VerbStatus), true},
		{"operator", "$SRV.PING." + events.ServiceName(events.ServiceGateway), true},
		{"monitor", events.GatewayControlSubject("gw-1", events.VerbStatus), false},
		{"notifier", events.GatewayControlSubject("gw-1", events.VerbStatus), false},
		{"app", events.GatewayControlSubject("gw-1", events.VerbStatus), false},
	}
	for _, tc := range cases {
		t.Run(tc.user+"/"+tc.subject, func(t *testing.T) {
			c := dial(t, url, tc.user)
			timeout := time.Second
			if tc.allowed {
				timeout = 5 * time.Second
			}
			_, err := c.Request(tc.subject, nil, timeout)
			if tc.allowed && err != nil {
				t.Fatalf("%s request %s: %v", tc.user, tc.subject, err)
			}
			if !tc.allowed && (err == nil || !c.denied("publish", tc.subject, waitFor(false))) {
				t.Fatalf("%s request %s: err=%v, want a permissions violation", tc.user, tc.subject, err)
			}
		})
	}
}

// TestNATSPermissionsNotifierReadsRecord: the notifier reads the healer's
// record for its reviews by direct get (the next value under a kind's
// keys), and may neither write it nor make a consumer on it.
func TestNATSPermissionsNotifierReadsRecord(t *testing.T) {
	url := authServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	op, err := jetstream.New(dial(t, url, "operator").Conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Ensure(ctx, op, events.EnsureOptions{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	okv, err := op.KeyValue(ctx, events.BucketRecord)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := okv.Put(ctx, "node_down.node.restart", []byte(`{"kind":"node_down","remedy":"restart","class":"node","attempts":2}`)); err != nil {
		t.Fatal(err)
	}
	n := dial(t, url, "notifier")
	js, err := jetstream.New(n.Conn)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "KV_"+events.BucketRecord)
	if err != nil {
		t.Fatalf("the notifier cannot bind the record's stream: %v", err)
	}
	m, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject("$KV."+events.BucketRecord+".node_down.>"))
	if err != nil || !strings.Contains(string(m.Data), `"remedy":"restart"`) {
		t.Fatalf("the notifier cannot read a record: %v", err)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{}); err == nil {
		t.Fatal("the notifier made a consumer on the healer's record")
	}
	if err := n.Publish("$KV."+events.BucketRecord+".node_down.node.restart", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_ = n.Flush()
	if !n.denied("publish", "$KV."+events.BucketRecord+".node_down.node.restart", 2*time.Second) {
		t.Fatal("the notifier wrote to the healer's record")
	}
}
