package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/cmd/wsheal/devtest"
	"github.com/wsheal/wsheal/services/healer/policy"
	"github.com/wsheal/wsheal/tools/internal/chaos"
)

// TestChaosHopelessReviewSaysWhatToTune runs `wsheal chaos hopeless`
// against a real `wsheal dev` stack: a gateway is killed and its port
// held, so every restart the healer tries fails for real; the healer
// escalates, a person is paged, the node is brought back by hand, and the
// incident's review must say what to tune, naming the setting, from those
// failures (in report.json and report.md). The built-in policies run
// with a shorter restart deadline (8 s instead of 60 s) and backoff, so
// that the three failures take seconds, not minutes.
func TestChaosHopelessReviewSaysWhatToTune(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	const from = "      - action: restart\n        verify: node_healthy\n        deadline: 60s"
	if !bytes.Contains(policy.DefaultYAML, []byte(from)) {
		t.Fatalf("the built-in policies no longer have the node-down restart step this test shortens:\n%s", policy.DefaultYAML)
	}
	pol := filepath.Join(t.TempDir(), "policies.yaml")
	short := bytes.Replace(policy.DefaultYAML, []byte(from), []byte(strings.Replace(from, "60s", "8s", 1)), 1)
	if err := os.WriteFile(pol, short, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WSHEAL_HEALER_POLICIES", pol)
	t.Setenv("WSHEAL_HEALER_BACKOFF_BASE", "1s")
	t.Setenv("WSHEAL_NOTIFIER_REVIEW_DELAY", "3s")
	ds := devtest.Start(t, "--demo-clients", "0", "--quiet")
	rep, out, _ := runChaos(t, ds, 5*time.Minute, "hopeless", "--clients", "30", "--rate", "10")
	if len(rep.Results) != 1 {
		t.Fatalf("scenarios %d", len(rep.Results))
	}
	r := rep.Results[0]
	for _, c := range r.Checks {
		t.Logf("check %s: %v: %s", c.Name, c.OK, c.Detail)
	}
	if r.Status != chaos.StatusPassed {
		t.Fatalf("hopeless %s: %s", r.Status, r.Reason)
	}
	if r.Review == nil {
		t.Fatal("no review in the report")
	}
	named := ""
	for _, l := range r.Review.Tune {
		t.Logf("what to tune: %s", l)
		if strings.Contains(l, "WSHEAL_HEALER_") && strings.Contains(l, "restart") && named == "" {
			named = l
		}
	}
	if named == "" {
		t.Fatalf("the review's tuning lines name no healer setting for the failed restarts: %q", r.Review.Tune)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(md), "to tune: "+named) {
		t.Fatalf("report.md lacks the tuning line %q (%v)", named, err)
	}
}
