package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/cmd/wsheal/internal/chaos"
)

// TestChaosCrashAndHangAgainstDev runs `wsheal chaos crash hang` against
// a real `wsheal dev` stack: a gateway is killed with SIGKILL, then
// another stopped with SIGSTOP, under a client load; for each, the report
// must show the detection, no message lost or duplicated, the incident
// and its review, in all three files.
func TestChaosCrashAndHangAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ds := startDev(t, "--demo-clients", "0", "--quiet")
	out := filepath.Join(t.TempDir(), "report")
	saved := natsOpts
	t.Cleanup(func() { natsOpts = saved })
	natsOpts.server = ds.natsURL
	natsOpts.timeout = 5 * time.Second

	cmd := chaosCmd()
	var stdout, progress syncBuffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&progress)
	cmd.SetArgs([]string{"crash", "hang", "--clients", "100", "--rate", "20", "--out", out})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Logf("chaos: %v (the figures below say which expectation failed)", err)
	}

	raw, rerr := os.ReadFile(filepath.Join(out, "report.json"))
	if rerr != nil {
		t.Fatalf("no report.json: %v\n%s", rerr, stdout.String())
	}
	var rep chaos.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("scenarios %d", len(rep.Results))
	}
	for _, r := range rep.Results {
		t.Logf("%s: %s, detect %v ms, remediate %v ms, back %v ms, lost %d, dup %d, incident %s, review %+v",
			r.Name, r.Status, deref(r.DetectMS), deref(r.RemediateMS), deref(r.RecoverMS), r.Lost, r.Duplicated, r.Incident, r.Review)
		if r.Sent == 0 || r.Lost != 0 || r.Duplicated != 0 {
			t.Errorf("%s: sent %d, lost %d, duplicated %d", r.Name, r.Sent, r.Lost, r.Duplicated)
		}
		if r.DetectMS == nil || *r.DetectMS <= 0 {
			t.Errorf("%s: no detection: %+v", r.Name, r.Checks)
		}
		if r.Incident == "" || r.Review == nil {
			t.Errorf("%s: incident %q, review %+v: %+v", r.Name, r.Incident, r.Review, r.Checks)
		}
	}
	if rep.Results[0].Target == rep.Results[1].Target {
		t.Errorf("both faults on %s: the runner spreads them over the nodes", rep.Results[0].Target)
	}
	for _, f := range []string{"report.md", "chart.svg"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || !strings.Contains(string(b), "gw-") {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "| crash |") || !strings.Contains(stdout.String(), "| hang |") {
		t.Errorf("stdout lacks the summary table:\n%s", stdout.String())
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
