package fleetview_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/fleetview"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestStalenessRule(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		after    time.Duration
	}{
		{"interval not said: one second", 0, 3 * time.Second},
		{"the default heartbeat", time.Second, 3 * time.Second},
		{"a fast heartbeat counts as one second", 100 * time.Millisecond, 3 * time.Second},
		{"a slow heartbeat", 2 * time.Second, 6 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := fleetview.Node{ID: "g1", Interval: tc.interval, Heard: t0}
			if got := n.StaleAfter(); got != tc.after {
				t.Fatalf("stale after %s, want %s", got, tc.after)
			}
			if !n.Fresh(t0.Add(tc.after)) || n.Fresh(t0.Add(tc.after+time.Millisecond)) {
				t.Fatalf("fresh up to %s of silence and no longer", tc.after)
			}
			r := n.Registration()
			if r.Fresh(t0.Add(tc.after)) != n.Fresh(t0.Add(tc.after)) || r.Fresh(t0.Add(tc.after+time.Millisecond)) {
				t.Fatal("the registry entry and the node disagree on staleness")
			}
		})
	}
}

// entry is a registry change as a KV watch hands it over.
type entry struct {
	key     string
	value   []byte
	op      jetstream.KeyValueOp
	created time.Time
}

func (e entry) Bucket() string                  { return events.BucketFleet }
func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return e.value }
func (e entry) Revision() uint64                { return 1 }
func (e entry) Created() time.Time              { return e.created }
func (e entry) Delta() uint64                   { return 0 }
func (e entry) Operation() jetstream.KeyValueOp { return e.op }

func registration(t *testing.T, key string, r events.Registration) entry {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return entry{key: key, value: b, op: jetstream.KeyValuePut, created: r.UpdatedAt}
}

func reg(node, url string, at time.Time) events.Registration {
	return events.Registration{Node: node, URL: url, Connections: 3, Capacity: 10, UpdatedAt: at, HeartbeatMS: 1000}
}

func TestApplyBelievesOnlyCheckedEntries(t *testing.T) {
	v := fleetview.New(fleetview.Config{Hosts: events.Hosts{"gw.example"}}, zerolog.Nop())
	v.Apply(registration(t, "g1", reg("g1", "ws://gw.example/ws", t0)))
	if n, ok := v.Get("g1"); !ok || n.Connections != 3 || n.Interval != time.Second || !n.Heard.Equal(t0) {
		t.Fatalf("a good entry: %+v %v", n, ok)
	}
	for name, e := range map[string]entry{
		"another node's key":   registration(t, "g1", reg("g2", "ws://gw.example/ws", t0.Add(time.Second))),
		"a host not allowed":   registration(t, "g1", reg("g1", "ws://evil.example/ws", t0.Add(time.Second))),
		"not a registration":   {key: "g1", value: []byte("{"), op: jetstream.KeyValuePut},
		"a scheme not a URL's": registration(t, "g1", reg("g1", "javascript://gw.example/x", t0.Add(time.Second))),
	} {
		t.Run(name, func(t *testing.T) {
			v.Apply(registration(t, "g1", reg("g1", "ws://gw.example/ws", t0)))
			v.Apply(e)
			if n, ok := v.Get("g1"); ok {
				t.Fatalf("the previous entry still believed after a bad one: %+v", n)
			}
		})
	}
}

func TestOlderNewsNeverOverwritesNewer(t *testing.T) {
	v := fleetview.New(fleetview.Config{}, zerolog.Nop())
	hb := fleetview.Node{ID: "g1", Connections: 5, StartedAt: t0, Boot: "B1", Heard: t0.Add(2 * time.Second)}
	if !v.Observe(hb) {
		t.Fatal("first news refused")
	}
	if v.Observe(fleetview.Node{ID: "g1", Connections: 9, StartedAt: t0, Heard: t0.Add(time.Second)}) {
		t.Fatal("older news taken")
	}
	v.Apply(registration(t, "g1", reg("g1", "ws://x/ws", t0.Add(3*time.Second))))
	n, _ := v.Get("g1")
	if n.Connections != 3 || n.Boot != "" {
		t.Fatalf("a newer registration of another start: %+v", n)
	}
	hb.Heard = t0.Add(4 * time.Second)
	v.Observe(hb)
	r := reg("g1", "ws://x/ws", t0.Add(5*time.Second))
	r.StartedAt = t0
	v.Apply(registration(t, "g1", r))
	if n, _ := v.Get("g1"); n.Boot != "B1" {
		t.Fatalf("a registration of the same process lost its boot id: %+v", n)
	}
}

func TestDeleteRemovesOnlyWhatItFollows(t *testing.T) {
	v := fleetview.New(fleetview.Config{}, zerolog.Nop())
	v.Apply(registration(t, "g1", reg("g1", "ws://x/ws", t0)))
	v.Apply(entry{key: "g1", op: jetstream.KeyValueDelete, created: t0.Add(time.Second)})
	if _, ok := v.Get("g1"); ok {
		t.Fatal("a clean stop left the node in the view")
	}
	v.Observe(fleetview.Node{ID: "g2", Heard: t0.Add(2 * time.Second)})
	v.Apply(entry{key: "g2", op: jetstream.KeyValuePurge, created: t0})
	if _, ok := v.Get("g2"); !ok {
		t.Fatal("an old delete marker removed a node heard since")
	}
}

func TestNodesForgetsTheSilent(t *testing.T) {
	v := fleetview.New(fleetview.Config{Forget: time.Minute}, zerolog.Nop())
	v.Observe(fleetview.Node{ID: "b", Heard: t0})
	v.Observe(fleetview.Node{ID: "a", Heard: t0.Add(30 * time.Second)})
	if got := v.Nodes(t0.Add(time.Minute)); len(got) != 2 || got[0].ID != "a" || got[0].Fresh(t0.Add(time.Minute)) {
		t.Fatalf("nodes %+v: both, sorted, stale", got)
	}
	if got := v.Nodes(t0.Add(time.Minute + time.Second)); len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("nodes %+v: b silent past Forget", got)
	}
	if _, ok := v.Get("b"); ok {
		t.Fatal("a forgotten node still there")
	}
}

func TestHeartbeatOnItsOwnSubjectOnly(t *testing.T) {
	clock := t0
	v := fleetview.New(fleetview.Config{Hosts: events.Hosts{events.NodeHost}, Now: func() time.Time { return clock }}, zerolog.Nop())
	beat := func(node, subject, internal string) {
		hb := &events.Heartbeat{Node: node, URL: "ws://" + node + "/ws", InternalURL: internal, Connections: 4, IntervalMS: 500, Boot: "B"}
		b, err := events.New("/t", events.HeartbeatSubject(node), hb).Encode()
		if err != nil {
			t.Fatal(err)
		}
		v.Heartbeat(subject, b)
	}
	beat("g1", events.HeartbeatSubject("g1"), "http://g1:8080")
	beat("g2", events.HeartbeatSubject("g3"), "http://g2:8080")
	beat("g4", events.HeartbeatSubject("g4"), "http://g1:8080")
	n, ok := v.Get("g1")
	if !ok || n.Boot != "B" || n.Interval != 500*time.Millisecond || !n.Heard.Equal(t0) {
		t.Fatalf("heartbeat of g1: %+v %v", n, ok)
	}
	if got := v.Nodes(clock); len(got) != 1 {
		t.Fatalf("believed %+v: another node's subject, or probes sent to another node", got)
	}
	if _, err := fleetview.DecodeHeartbeat(events.HeartbeatSubject("g1"), []byte("{}"), nil); err == nil {
		t.Fatal("a malformed heartbeat decoded")
	}
}

func TestDecodeErrorsWrapErrRegistration(t *testing.T) {
	b, _ := json.Marshal(reg("g2", "ws://x/ws", t0))
	if _, err := fleetview.Decode("g1", b, nil); !errors.Is(err, events.ErrRegistration) {
		t.Fatalf("err %v", err)
	}
}
