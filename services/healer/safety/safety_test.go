package safety_test

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/safety"
)

func TestBackoffGrowsAndResetsAfterAHealthyPeriod(t *testing.T) {
	b := safety.Backoff{Base: time.Second, Max: 8 * time.Second, Healthy: time.Minute}
	t0 := time.Unix(1000, 0)
	var a safety.Attempts
	if w := b.Wait(a, t0); w != 0 {
		t.Fatalf("first attempt waits %v", w)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	now := t0
	for i, w := range want {
		a = b.Record(a, now)
		if got := b.Wait(a, now); got != w {
			t.Fatalf("after attempt %d wait %v, want %v", i+1, got, w)
		}
		now = now.Add(w)
	}
	if got := b.Wait(a, now.Add(time.Minute)); got != 0 {
		t.Fatalf("after a healthy period wait %v", got)
	}
	if a = b.Record(a, now.Add(time.Minute)); a.Count != 1 {
		t.Fatalf("count not reset after a healthy period: %d", a.Count)
	}
}

func TestBudgetLimitsAndRefills(t *testing.T) {
	b := safety.Budget{Rate: 1, Burst: 2}
	t0 := time.Unix(1000, 0)
	var tk safety.Tokens
	for i := range 2 {
		var ok bool
		if tk, ok, _ = b.Take(tk, t0); !ok {
			t.Fatalf("token %d refused", i)
		}
	}
	tk, ok, wait := b.Take(tk, t0)
	if ok || wait != time.Second {
		t.Fatalf("empty bucket: ok=%v wait=%v", ok, wait)
	}
	if _, ok, _ := b.Take(tk, t0.Add(time.Second)); !ok {
		t.Fatal("no refill")
	}
	if got := b.Refill(tk, t0.Add(time.Hour)).Level; got != 2 {
		t.Fatalf("refilled above the burst: %v", got)
	}
}

func nodes(spec string) []fleet.Node {
	// one letter per node: h healthy, d draining, x silent
	out := make([]fleet.Node, 0, len(spec))
	for i, c := range spec {
		out = append(out, fleet.Node{ID: string(rune('a' + i)), Healthy: c != 'x', Draining: c == 'd'})
	}
	return out
}

func TestBlastRadius(t *testing.T) {
	cases := []struct {
		name, fleet, target string
		share               float64
		ok                  bool
	}{
		{"two nodes, drain one", "hh", "a", 0.5, true},
		{"last healthy node", "xh", "b", 0.5, false},
		{"only node", "h", "a", 1, false},
		{"three nodes, one already out", "xhh", "b", 0.5, false},
		{"three nodes, none out", "hhh", "a", 0.5, true},
		{"restart of a dead node", "xhh", "a", 0.5, true},
		{"draining counts", "dhhh", "b", 0.5, true},
		{"draining counts over", "ddhh", "c", 0.5, false},
		{"empty fleet", "", "a", 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			why := safety.Blast(nodes(c.fleet), c.target, c.share)
			if (why == "") != c.ok {
				t.Fatalf("Blast = %q, want ok=%v", why, c.ok)
			}
		})
	}
}

func TestPanicAndFlapping(t *testing.T) {
	if safety.Panic(nodes("xhh"), 0.5) {
		t.Fatal("one of three silent is no panic")
	}
	if !safety.Panic(nodes("xxh"), 0.5) {
		t.Fatal("two of three silent is a panic")
	}
	if safety.Panic(nil, 0.5) {
		t.Fatal("an empty fleet is no panic")
	}
	now := time.Unix(1000, 0)
	heals := []time.Time{now.Add(-20 * time.Minute), now.Add(-5 * time.Minute), now.Add(-time.Minute)}
	if safety.Flapping(heals, now, 10*time.Minute, 3) {
		t.Fatal("an old heal counted")
	}
	if !safety.Flapping(append(heals, now), now, 10*time.Minute, 3) {
		t.Fatal("three recent heals are a flap")
	}
}

func TestFleetHoldsQuarantines(t *testing.T) {
	open := func(nodes ...string) *events.Anomaly {
		return &events.Anomaly{Kind: events.KindFleetDegraded, State: events.AnomalyOpen, Target: events.FleetTarget, Nodes: nodes}
	}
	resolved := open("n1", "n2")
	resolved.State = events.AnomalyResolved
	cases := []struct {
		name string
		deg  *events.Anomaly
		node string
		want bool
	}{
		{"no fleet anomaly ever", nil, "n1", false},
		{"named by the open fleet anomaly", open("n1", "n2"), "n1", true},
		{"stands out: not named", open("n1", "n2"), "n3", false},
		{"an open fleet anomaly naming nobody holds everyone", open(), "n3", true},
		{"resolved", resolved, "n1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := safety.FleetHolds(c.deg, c.node); got != c.want {
				t.Fatalf("FleetHolds = %v, want %v", got, c.want)
			}
		})
	}
}
