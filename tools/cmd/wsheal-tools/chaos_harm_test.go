package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/cmd/wsheal/devtest"
	"github.com/wsheal/wsheal/tools/internal/chaos"
)

// TestChaosDoNoHarmAgainstDev runs bounded versions of the do-no-harm
// scenarios against a real `wsheal dev` stack: every gateway slowed at
// once (3 stalls instead of 12), one gateway slowed alone, a hung
// gateway whose old process thaws during its restart, a crash in a
// 60-client fleet, and the channel store driven full (an 8 MiB limit set
// here, so a skip for want of a limit fails too). Each scenario must pass
// its own rule.
func TestChaosDoNoHarmAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	t.Setenv("WSHEAL_CHANNELS_MAX_BYTES", "8388608") // an 8 MiB channel store, filled in about 10 s
	ds := devtest.Start(t, "--demo-clients", "0", "--quiet")
	// The fast ones first: the slow ones need the monitor's baselines,
	// learned meanwhile. The slowdown runs last, after the scenarios that
	// restart gw-1: the shared stalls must not count toward any node's
	// flapping, whatever that node's restart history.
	names := []string{"hang-then-thaw", "small-fleet", "store-full", "one-slow", "slowdown"}
	rep, _, stdout := runChaos(t, ds, 8*time.Minute, append(names, "--clients", "60", "--rate", "10", "--stalls", "3")...)
	if len(rep.Results) != len(names) {
		t.Fatalf("scenarios %d, want %d", len(rep.Results), len(names))
	}
	for _, r := range rep.Results {
		t.Logf("%s: %s, detect %v ms, remediate %v ms, lost %d, dup %d, checks %+v, notes %v",
			r.Name, r.Status, deref(r.DetectMS), deref(r.RemediateMS), r.Lost, r.Duplicated, r.Checks, r.Notes)
		if r.Status != chaos.StatusPassed {
			t.Errorf("%s %s: %s", r.Name, r.Status, r.Reason)
		}
		if r.Lost != 0 || r.Duplicated != 0 {
			t.Errorf("%s: lost %d, duplicated %d", r.Name, r.Lost, r.Duplicated)
		}
	}
	if !strings.Contains(stdout, "| slowdown |") {
		t.Errorf("stdout lacks the summary table:\n%s", stdout)
	}
}
