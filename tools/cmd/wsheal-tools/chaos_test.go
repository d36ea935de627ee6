package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/cmd/wsheal/devtest"
	"github.com/wsheal/wsheal/tools/internal/chaos"
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
	ds := devtest.Start(t, "--demo-clients", "0", "--quiet")
	rep, out, stdout := runChaos(t, ds, 3*time.Minute, "crash", "hang", "--clients", "100", "--rate", "20")
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
	if !strings.Contains(stdout, "| crash |") || !strings.Contains(stdout, "| hang |") {
		t.Errorf("stdout lacks the summary table:\n%s", stdout)
	}
}

// runChaos runs `wsheal chaos args... --out <dir>` against the dev stack
// ds within timeout and returns its report, the report's folder and what
// it printed. A run whose scenarios failed still returns its report: the
// caller's checks say which expectation failed.
func runChaos(t *testing.T, ds *devtest.Stack, timeout time.Duration, args ...string) (rep chaos.Report, dir, stdout string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "report")
	saved := natsOpts
	t.Cleanup(func() { natsOpts = saved })
	natsOpts.Server = ds.NATSURL
	natsOpts.Timeout = 5 * time.Second

	cmd := chaosCmd()
	var out, progress devtest.Log
	cmd.SetOut(&out)
	cmd.SetErr(&progress)
	cmd.SetArgs(append(args, "--out", dir))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Logf("chaos: %v (the checks below say which expectation failed)", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("no report.json: %v\n%s", err, out.String())
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, dir, out.String()
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
