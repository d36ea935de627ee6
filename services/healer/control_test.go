package healer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/healer"
	"github.com/wsheal/wsheal/services/healer/policy"
)

func TestControlVerbs(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 10, 100)
	f.add("n2", 10, 100)
	a := watchAudit(t, srv)
	startHealer(t, testConfig(t, srv))
	nc := natsConn(t, srv.URL())
	mon := newPublisher(t, srv)
	mon.open(events.KindStaleSpike, "n1", events.SeverityWarning)
	mon.open(events.KindRTTDegraded, "n2", events.SeverityWarning) // no policy in the test file
	natstest.Eventually(t, 15*time.Second, func() bool { return len(a.find("", "", "")) >= 4 }, "decisions made")

	t.Run("status", func(t *testing.T) {
		var st events.HealerStatus
		if err := request(t, nc, events.VerbStatus, nil, &st); err != nil {
			t.Fatal(err)
		}
		if st.State != "active" || st.Policies != 5 || !strings.HasSuffix(st.PolicyFile, "policies.yaml") || st.Tokens <= 0 {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("policies", func(t *testing.T) {
		var p events.HealerPolicies
		if err := request(t, nc, events.VerbHealerPolicies, nil, &p); err != nil {
			t.Fatal(err)
		}
		set, err := policy.Decode([]byte(p.YAML), "reply")
		if err != nil || len(set.Policies) != 5 {
			t.Fatalf("the effective policies do not decode: %v", err)
		}
	})
	t.Run("actions", func(t *testing.T) {
		var acts events.HealerActions
		if err := request(t, nc, events.VerbHealerActions, events.HealerActionsRequest{Limit: 2}, &acts); err != nil {
			t.Fatal(err)
		}
		if len(acts.Actions) != 2 {
			t.Fatalf("limit ignored: %d", len(acts.Actions))
		}
		if err := request(t, nc, events.VerbHealerActions, events.HealerActionsRequest{Target: "n2"}, &acts); err != nil {
			t.Fatal(err)
		}
		if len(acts.Actions) != 1 || acts.Actions[0].Reason != events.SkipNoPolicy {
			t.Fatalf("actions of n2: %+v", acts.Actions)
		}
	})
	bad := []struct {
		verb string
		body any
	}{
		{events.VerbHealerDryRun, map[string]any{}},
		{events.VerbHealerDryRun, map[string]any{"on": true, "typo": 1}},
		{events.VerbHealerHandsOff, map[string]any{"node": "a.b", "on": true}},
		{events.VerbHealerHandsOff, map[string]any{"node": "n1"}},
		{events.VerbHealerActions, map[string]any{"limit": 501}},
		{events.VerbStatus, "not an object"},
	}
	for _, b := range bad {
		t.Run("bad "+b.verb, func(t *testing.T) {
			if err := request(t, nc, b.verb, b.body, nil); !isControlError(err, events.CodeBadRequest) {
				t.Fatalf("want bad_request, got %v", err)
			}
		})
	}
	// Still serving after bad input.
	if err := request(t, nc, events.VerbStatus, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyFileErrorsStopTheStart(t *testing.T) {
	srv := natstest.Start(t)
	cfg := testConfig(t, srv)
	path := filepath.Join(t.TempDir(), "bad.yaml")
	body := "policies:\n  - name: x\n    kinds: [node_down]\n    actions:\n      - action: restart\n        verify: eventually\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Policies = path
	_, err := healer.New(cfg, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:6: policies[0].actions[0].verify") ||
		!strings.Contains(err.Error(), "WSHEAL_HEALER_POLICIES") {
		t.Fatalf("the error does not name the variable, line and field: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("WSHEAL_HEALER_RETRY_CAP", "5")
	c, err := healer.ConfigFromEnv()
	if err != nil || c.RetryCap != 5 || c.BlastShare != 0.5 || c.Restart != "auto" || c.AckWait != 30*time.Second ||
		c.Backoff.Base != 5*time.Second || c.Scale.Max != 10 || c.Heartbeat != time.Second {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	cases := map[string]string{
		"WSHEAL_HEALER_BLAST_SHARE":    "1.5",
		"WSHEAL_HEALER_RESTART":        "kubectl",
		"WSHEAL_HEALER_ACK_WAIT":       "10ms",
		"WSHEAL_HEALER_RETRY_CAP":      "0",
		"WSHEAL_HEALER_POLICIES":       "/nonexistent/policies.yaml",
		"WSHEAL_HEALER_HEALTHY_PERIOD": "0s",
		"WSHEAL_HEALER_BUDGET_BURST":   "0",
		"WSHEAL_HEALER_EXPLORE_EVERY":  "-1",
		"WSHEAL_HEALER_SCALE_MIN":      "0",
		"WSHEAL_HEALER_VERIFY_POLL":    "0s",
		"WSHEAL_HEALER_HEARTBEAT":      "0s",
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, v)
			_, err := healer.ConfigFromEnv()
			if err == nil || !errors.Is(err, healer.ErrConfig) || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%s: error %v does not name it", name, v, err)
			}
		})
	}
}

func TestEffectivePoliciesPrintsTheDefaults(t *testing.T) {
	b, err := healer.EffectivePolicies("")
	if err != nil || !strings.Contains(string(b), "node-down") || len(healer.DefaultPolicies) == 0 {
		t.Fatalf("%v\n%s", err, b)
	}
}

// FuzzControlCommands feeds the healer's control verbs' request decoding
// (the strict decoder with the healer's command types) arbitrary bytes.
func FuzzControlCommands(f *testing.F) {
	f.Add([]byte(`{"node":"n1","on":true,"reason":"x"}`))
	f.Add([]byte(`{"on":false}`))
	f.Add([]byte(`{"limit":10,"target":"n1"}`))
	f.Add([]byte(`{"reason":"r","by":"me"}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h events.HandsOffCommand
		if events.DecodeCommand(b, &h) == nil && (h.On == nil || events.ValidateToken(h.Node) != nil) {
			t.Fatalf("accepted %+v", h)
		}
		var d events.HealerDryRunCommand
		if events.DecodeCommand(b, &d) == nil && d.On == nil {
			t.Fatal("accepted a dry-run command without on")
		}
		var a events.HealerActionsRequest
		if events.DecodeCommand(b, &a) == nil && (a.Limit < 0 || a.Limit > 500) {
			t.Fatalf("accepted limit %d", a.Limit)
		}
		var p events.HealerPauseCommand
		_ = events.DecodeCommand(b, &p)
		var r events.HealerResumeCommand
		_ = events.DecodeCommand(b, &r)
	})
}
