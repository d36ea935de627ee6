package gate_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/gate"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/services/healer/safety"
	"github.com/wsheal/wsheal/services/healer/state"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var limits = gate.Limits{
	PanicShare: 0.5, MaxAge: 30 * time.Minute, FlapHeals: 3, FlapWindow: 10 * time.Minute,
	RetryCap: 3, BlastShare: 0.34, Wait: 2 * time.Second,
	Backoff: safety.Backoff{Base: 10 * time.Second, Max: time.Minute, Healthy: 5 * time.Minute},
	Budget:  safety.Budget{Rate: 0.1, Burst: 2},
}

func step(action string) policy.Step {
	return policy.Step{Action: action, Verify: policy.DefaultVerify(action), Deadline: policy.Duration(time.Minute), Attempts: 1}
}

func pol(steps ...string) *policy.Policy {
	p := &policy.Policy{Name: "p", Kinds: []string{events.KindNodeDown}}
	for _, s := range steps {
		p.Actions = append(p.Actions, step(s))
	}
	return p
}

func node(id string, healthy bool) fleet.Node {
	return fleet.Node{ID: id, Healthy: healthy, LastSeen: now, Connections: 10}
}

// snap is a delivery of node_down on n1 (silent) in a fleet of four, with
// a restart policy, everything else at rest.
func snap(edit ...func(*gate.Snapshot)) gate.Snapshot {
	s := gate.Snapshot{
		Anomaly: &events.Anomaly{ID: "node_down-n1-1", Kind: events.KindNodeDown, State: events.AnomalyOpen,
			Target: "n1", Severity: events.SeverityError, DetectedAt: now.Add(-time.Minute), Summary: "n1 silent"},
		Now:      now,
		Fleet:    []fleet.Node{node("n1", false), node("n2", true), node("n3", true), node("n4", true)},
		Policy:   pol(events.ActionRestart),
		HandsOff: map[string]bool{}, Quarantined: map[string]bool{},
		Backoff: map[string]safety.Attempts{},
	}
	for _, e := range edit {
		e(&s)
	}
	return s
}

// fleetWide makes the anomaly a fleet-wide one naming nodes.
func fleetWide(kind string, nodes ...string) func(*gate.Snapshot) {
	return func(s *gate.Snapshot) {
		s.Anomaly.Kind, s.Anomaly.Target, s.Anomaly.Nodes = kind, events.FleetTarget, nodes
	}
}

// check runs the gate named name alone.
func check(t *testing.T, name string, c state.Case, s gate.Snapshot) gate.Verdict {
	t.Helper()
	for _, g := range gate.Pipeline(limits) {
		if g.Name == name {
			return g.Check(c, s)
		}
	}
	t.Fatalf("no gate %q", name)
	return gate.Verdict{}
}

// want is the expected verdict of one table row: kind, reason, a part of
// why, and the flags.
type want struct {
	kind   gate.Kind
	reason string
	why    string
	delay  time.Duration
	alarm  bool
	panic  bool
	quar   bool
	dry    bool
}

type row struct {
	name string
	c    state.Case
	s    gate.Snapshot
	want want
}

func (w want) match(t *testing.T, gateName string, v gate.Verdict) {
	t.Helper()
	if v.Kind != w.kind || v.Reason != w.reason || !strings.Contains(v.Why, w.why) {
		t.Fatalf("verdict %s %q %q, want %s %q containing %q", v.Kind, v.Reason, v.Why, w.kind, w.reason, w.why)
	}
	if w.delay != 0 && v.Delay != w.delay {
		t.Fatalf("delay %s, want %s", v.Delay, w.delay)
	}
	if v.Alarm != w.alarm || v.EnterPanic != w.panic || v.Quarantine != w.quar || v.DryRun != w.dry {
		t.Fatalf("flags alarm=%v panic=%v quarantine=%v dry-run=%v, want %v %v %v %v",
			v.Alarm, v.EnterPanic, v.Quarantine, v.DryRun, w.alarm, w.panic, w.quar, w.dry)
	}
	if w.kind != gate.Continue && v.Gate != gateName {
		t.Fatalf("verdict names gate %q, want %q", v.Gate, gateName)
	}
}

func table(t *testing.T, gateName string, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) { r.want.match(t, gateName, check(t, gateName, r.c, r.s)) })
	}
}

var pass = want{kind: gate.Continue}

func TestResolved(t *testing.T) {
	resolved := func(s *gate.Snapshot) { s.Resolved = true }
	table(t, "resolved", []row{
		{"open", state.Case{}, snap(), pass},
		{"before any action", state.Case{}, snap(resolved),
			want{kind: gate.Finish, reason: events.SkipResolved, why: "the anomaly resolved before any action"}},
		{"after attempts", state.Case{Attempts: 2}, snap(resolved),
			want{kind: gate.Finish, reason: events.SkipResolved, why: "the anomaly resolved after 2 attempts"}},
	})
}

func TestPanic(t *testing.T) {
	twoSilent := func(s *gate.Snapshot) { s.Fleet[1].Healthy, s.Fleet[2].Healthy = false, false }
	table(t, "panic", []row{
		{"one node silent", state.Case{}, snap(), pass},
		{"half the fleet silent is not above the threshold", state.Case{},
			snap(func(s *gate.Snapshot) { s.Fleet[1].Healthy = false }), pass},
		{"three of four silent", state.Case{}, snap(twoSilent),
			want{kind: gate.Wait, reason: events.SkipPanic, why: "3 of 4 nodes silent, above the panic threshold 50%", delay: limits.Wait, panic: true}},
		{"the fleet went silent", state.Case{}, snap(fleetWide(events.KindFleetSilent)),
			want{kind: gate.Finish, reason: events.SkipPanic, why: "the fleet went silent at once (n1 silent)", alarm: true, panic: true}},
	})
}

func TestMaxAge(t *testing.T) {
	table(t, "max age", []row{
		{"young", state.Case{}, snap(), pass},
		{"too old", state.Case{}, snap(func(s *gate.Snapshot) { s.Anomaly.DetectedAt = now.Add(-time.Hour) }),
			want{kind: gate.Escalate, reason: events.SkipRetryCap, why: "open for more than 30m0s"}},
	})
}

func TestPolicy(t *testing.T) {
	table(t, "policy", []row{
		{"matched", state.Case{}, snap(), pass},
		{"none", state.Case{}, snap(func(s *gate.Snapshot) { s.Policy = nil }),
			want{kind: gate.Finish, reason: events.SkipNoPolicy, why: "no policy for node_down at error"}},
	})
}

func TestPause(t *testing.T) {
	table(t, "pause", []row{
		{"running", state.Case{}, snap(), pass},
		{"paused", state.Case{}, snap(func(s *gate.Snapshot) { s.Paused = true }),
			want{kind: gate.Wait, reason: events.SkipPaused, why: "the healer is paused", delay: limits.Wait}},
	})
}

func TestHandsOffAndQuarantine(t *testing.T) {
	lock := func(nodes ...string) func(*gate.Snapshot) {
		return func(s *gate.Snapshot) {
			for _, n := range nodes {
				s.HandsOff[n] = true
			}
		}
	}
	quar := func(nodes ...string) func(*gate.Snapshot) {
		return func(s *gate.Snapshot) {
			for _, n := range nodes {
				s.Quarantined[n] = true
			}
		}
	}
	handsOff := want{kind: gate.Finish, reason: events.SkipHandsOff, why: "node n1 is under a hands-off lock"}
	table(t, "hands-off", []row{
		{"free", state.Case{}, snap(lock("n2")), pass},
		{"locked", state.Case{}, snap(lock("n1")), handsOff},
		{"a fleet anomaly naming a locked node", state.Case{}, snap(fleetWide(events.KindStaleSpike, "n2", "n1"), lock("n1")), handsOff},
		{"a quarantined node named first is the quarantine gate's", state.Case{},
			snap(fleetWide(events.KindStaleSpike, "n2", "n3"), quar("n2"), lock("n3")), pass},
	})
	table(t, "quarantine", []row{
		{"free", state.Case{}, snap(quar("n2")), pass},
		{"quarantined", state.Case{}, snap(quar("n1")),
			want{kind: gate.Finish, reason: events.SkipFlapping, why: "node n1 is quarantined"}},
		{"a fleet anomaly naming a quarantined node", state.Case{}, snap(fleetWide(events.KindStaleSpike, "n2", "n3"), quar("n3")),
			want{kind: gate.Finish, reason: events.SkipFlapping, why: "node n3 is quarantined"}},
	})
}

// documented reads the gate names from the table in the healer's package
// documentation: the rows of the indented block, each a name followed by
// two or more spaces (continuation lines start with spaces).
func documented(t *testing.T) []string {
	b, err := os.ReadFile("../doc.go")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`^//\t(\S+(?: \S+)*)  +\S`)
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

func TestPipelineFollowsTheDocumentedOrder(t *testing.T) {
	doc := documented(t)
	if len(doc) < 10 {
		t.Fatalf("the gate table in doc.go was not found (rows %q)", doc)
	}
	var built []string
	for _, g := range gate.Pipeline(limits) {
		built = append(built, g.Name)
	}
	if !slices.Equal(built, doc) {
		t.Fatalf("the pipeline runs\n  %q\nthe healer's doc.go documents\n  %q", built, doc)
	}
	if !slices.Equal(gate.Names(), built) {
		t.Fatalf("Names %q differ from the pipeline %q", gate.Names(), built)
	}
}
