package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/policy"
)

func TestDefaultPoliciesAreValidAndMatch(t *testing.T) {
	s := policy.Default()
	cases := []struct {
		kind, severity, want string
	}{
		{events.KindNodeDown, events.SeverityCritical, "node-down"},
		{events.KindNodeHung, events.SeverityError, "node-down"},
		{events.KindSaturation, events.SeverityWarning, "overload"},
		{events.KindRTTDegraded, events.SeverityWarning, ""},
		{events.KindImbalance, events.SeverityInfo, "imbalance"},
		{events.KindFlapping, events.SeverityError, "flapping"},
		{events.KindFleetDegraded, events.SeverityWarning, "fleet-degraded"},
		{events.KindStoreFull, events.SeverityCritical, "data-plane-limits"},
		{events.KindDataPlaneErrors, events.SeverityError, "data-plane-errors"},
		{events.KindFleetSaturated, events.SeverityWarning, "fleet-saturated"},
		{events.KindFleetUnderused, events.SeverityInfo, "fleet-underused"},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+c.severity, func(t *testing.T) {
			p := s.Match(c.kind, c.severity)
			got := ""
			if p != nil {
				got = p.Name
			}
			if got != c.want {
				t.Fatalf("Match(%s, %s) = %q, want %q", c.kind, c.severity, got, c.want)
			}
		})
	}
	// A scale's step reads +1 and -1 as written; its verification is
	// scaled; the record tells the directions apart.
	out := s.Match(events.KindFleetSaturated, events.SeverityWarning).Actions[0]
	in := s.Match(events.KindFleetUnderused, events.SeverityInfo).Actions[0]
	if out.Scale != 1 || in.Scale != -1 || out.Verify != policy.VerifyScaled || out.Remedy() != "scale-out" || in.Remedy() != "scale-in" {
		t.Fatalf("scale steps %+v %+v", out, in)
	}
	// Defaults are filled in.
	p := s.Match(events.KindNodeDown, events.SeverityCritical)
	if p.Actions[0].Verify != policy.VerifyNodeHealthy || p.Actions[0].Attempts != 1 {
		t.Fatalf("restart step not filled: %+v", p.Actions[0])
	}
	again, err := policy.Decode(s.Encode(), "encoded")
	if err != nil {
		t.Fatalf("the encoded effective policies do not decode: %v", err)
	}
	if len(again.Policies) != len(s.Policies) {
		t.Fatalf("round trip lost policies")
	}
}

func TestStepForWalksTheLadder(t *testing.T) {
	p := policy.Policy{Actions: []policy.Step{{Action: "a", Attempts: 2}, {Action: "b", Attempts: 1}}}
	want := []string{"a", "a", "b", "b", "b"}
	for n, w := range want {
		if got := p.StepFor(n + 1).Action; got != w {
			t.Fatalf("StepFor(%d) = %s, want %s", n+1, got, w)
		}
	}
}

func TestDecodeErrorsNameLineAndField(t *testing.T) {
	cases := []struct {
		name, file string
		line       int
		field      string
	}{
		{"unknown field", "policies:\n  - name: a\n    kinds: [node_down]\n    actions:\n      - action: restart\n        deadlin: 5s\n", 6, "deadlin"},
		{"bad kind", "policies:\n  - name: a\n    kinds: [node_down, nope]\n    actions:\n      - action: restart\n", 3, "policies[0].kinds[1]"},
		{"bad verify", "policies:\n  - name: a\n    kinds: [node_down]\n    actions:\n      - action: restart\n      - action: drain\n        verify: maybe\n", 7, "policies[0].actions[1].verify"},
		{"bad duration", "policies:\n  - name: a\n    kinds: [node_down]\n    actions:\n      - action: restart\n        deadline: soon\n", 6, "yaml"},
		{"misplaced param", "policies:\n  - name: a\n    kinds: [node_down]\n    actions:\n      - action: restart\n        fraction: 0.5\n", 6, "policies[0].actions[0].fraction"},
		{"unbounded reconnect", "policies:\n  - name: a\n    kinds: [stale_spike]\n    actions:\n      - action: reconnect\n        select: all\n", 6, "policies[0].actions[0].select"},
		{"missing name", "policies:\n  - kinds: [node_down]\n    actions:\n      - action: restart\n", 2, "policies[0].name"},
		{"duplicate name", "policies:\n  - name: a\n    kinds: [node_down]\n    actions: [{action: restart}]\n  - name: a\n    kinds: [node_hung]\n    actions: [{action: restart}]\n", 5, "policies[1].name"},
		{"webhook url", "{\"policies\": [{\"name\": \"w\", \"kinds\": [\"error_rate\"],\n \"actions\": [{\"action\": \"webhook\", \"url\": \"ftp://x\"}]}]}\n", 2, "policies[0].actions[0].url"},
		{"node action on a fleet shift", "policies:\n  - name: f\n    kinds: [fleet_degraded]\n    actions:\n      - action: escalate\n      - action: restart\n", 6, "policies[0].actions[1]"},
		{"scale without a step", "policies:\n  - name: s\n    kinds: [fleet_saturated]\n    actions:\n      - action: scale\n", 5, "policies[0].actions[0].step"},
		{"scale by two", "policies:\n  - name: s\n    kinds: [fleet_saturated]\n    actions:\n      - action: scale\n        step: 2\n", 6, "policies[0].actions[0].step"},
		{"step on another action", "policies:\n  - name: s\n    kinds: [fleet_saturated]\n    actions:\n      - action: rebalance\n        step: 1\n", 6, "policies[0].actions[0].step"},
		{"scaled on another action", "policies:\n  - name: s\n    kinds: [node_down]\n    actions:\n      - action: restart\n        verify: scaled\n", 6, "policies[0].actions[0].verify"},
		{"scale on a fleet shift", "policies:\n  - name: f\n    kinds: [fleet_degraded]\n    actions:\n      - action: scale\n        step: 1\n", 5, "policies[0].actions[0]"},
		{"empty", "", 1, "policies"},
		{"no actions", "policies:\n  - name: a\n    kinds: [node_down]\n", 2, "policies[0].actions"},
		{"not yaml", "policies: [\n", 1, "yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policy.Decode([]byte(c.file), "p.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("%v does not wrap ErrInvalid", err)
			}
			var fe *policy.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%v is not a FieldError", err)
			}
			if fe.Line != c.line || fe.Field != c.field {
				t.Fatalf("got line %d field %q (%v), want line %d field %q", fe.Line, fe.Field, err, c.line, c.field)
			}
			if !strings.HasPrefix(err.Error(), "p.yaml:") {
				t.Fatalf("error does not name the file: %v", err)
			}
		})
	}
}

func TestDecodeJSONAndDefaults(t *testing.T) {
	s, err := policy.Decode([]byte(`{"policies":[{"name":"r","kinds":["imbalance"],"actions":[{"action":"rebalance"}]}]}`), "j")
	if err != nil {
		t.Fatal(err)
	}
	st := s.Policies[0].Actions[0]
	if st.Bound != 1.2 || st.Verify != policy.VerifyBalanced || st.Deadline.D() != time.Minute {
		t.Fatalf("defaults not filled: %+v", st)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(policy.DefaultYAML)
	f.Add([]byte("policies: [{name: a, kinds: [node_down], actions: [{action: restart, deadline: 1s}]}]"))
	f.Add([]byte("policies:\n  - &a {name: x}\n  - *a\n"))
	f.Add([]byte("{]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := policy.Decode(b, "fuzz")
		if err != nil {
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, p := range s.Policies {
			if len(p.Actions) == 0 || p.Name == "" {
				t.Fatalf("accepted an invalid policy %+v", p)
			}
			_ = p.StepFor(3)
		}
	})
}
