package healer_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// learnPolicies: for a dead node, remedy A is a runbook that answers and
// does nothing (the node stays down: its post-condition never holds),
// remedy B is the restart. The ladder lists A first.
const learnPolicies = `policies:
  - name: node-down
    kinds: [node_down]
    actions:
      - action: webhook
        url: %s
        verify: node_healthy
        deadline: 3s
      - action: restart
        deadline: 10s
`

// The healer learns, for real: gateways are killed one after another, the
// real monitor raises node_down, the healer first tries the runbook that
// never helps, then the restart; from the next incident on the record puts
// the restart first, the time to recover falls, the requested events cite
// the record, and a replica started after the first one stopped reads the
// same record.
func TestLearnsWhichRemedyWorks(t *testing.T) {
	var runbook atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { runbook.Add(1) }))
	defer hook.Close()
	srv := natstest.Start(t)
	f := newRealFleet(t, srv)
	nodes := []string{"g1", "g2", "g3", "g4"}
	for _, n := range nodes {
		f.start(n)
	}
	a := watchAudit(t, srv)
	startRealSupervisor(t, srv, f)
	startRealMonitor(t, srv, nil)
	cfg := realHealer(t, srv)
	path := filepath.Join(t.TempDir(), "learn.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, learnPolicies, hook.URL+"/runbook"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Policies, cfg.FlapHeals, cfg.DemoteAfter = path, 100, 3
	stop := startHealer(t, cfg)
	natstest.Eventually(t, 20*time.Second, func() bool { return len(f.conns(nodes...)) == len(nodes) }, "the fleet up")

	var mttr []time.Duration
	for i, node := range nodes {
		if i == 2 {
			// The first replica goes; the next one only has the record
			// in JetStream to learn from.
			stop()
			cfg.Instance = "h2"
			startHealer(t, cfg)
		}
		an := incident(t, srv, f, a, node)
		mttr = append(mttr, an.ResolvedAt.Sub(an.DetectedAt))
		req := requested(a, an.ID)
		if len(req) == 0 || req[0].Choice == nil {
			a.dump(t)
			t.Fatalf("incident %d: no requested event citing a choice", i+1)
		}
		first := req[0]
		t.Logf("incident %d (%s, replica %s): MTTR %v; first remedy %s; %s: %s", i+1, node, cfg.Instance,
			mttr[i].Round(time.Millisecond), first.Action, first.Choice.Rule, first.Choice.Why)
		switch {
		case i == 0 && first.Action != events.ActionWebhook:
			t.Fatalf("with no record the ladder's first remedy comes first, got %s", first.Action)
		case i > 0 && first.Action != events.ActionRestart:
			a.dump(t)
			t.Fatalf("incident %d: tried %s first, not the restart the record favours", i+1, first.Action)
		case i > 0 && !citesRecord(first.Choice, events.ActionWebhook, 1):
			t.Fatalf("incident %d: the choice does not cite the runbook's failure: %+v", i+1, first.Choice)
		}
	}
	if n := runbook.Load(); n != 1 {
		t.Fatalf("the runbook was called %d times, want once (the first incident)", n)
	}
	later := (mttr[1] + mttr[2] + mttr[3]) / 3
	t.Logf("MTTR of node_down: first incident %v, the next three %v on average (%v, %v, %v)",
		mttr[0].Round(time.Millisecond), later.Round(time.Millisecond), mttr[1].Round(time.Millisecond),
		mttr[2].Round(time.Millisecond), mttr[3].Round(time.Millisecond))
	if later >= mttr[0] {
		t.Fatalf("MTTR did not fall: %v then %v", mttr[0], later)
	}

	nc := natsConn(t, srv.URL())
	var rec events.HealerRecord
	if err := request(t, nc, events.VerbHealerRecord, events.HealerRecordRequest{Kind: events.KindNodeDown}, &rec); err != nil {
		t.Fatal(err)
	}
	got := map[string]events.RemedyRecord{}
	for _, r := range rec.Records {
		got[r.Remedy] = r
	}
	if w := got[events.ActionWebhook]; w.Attempts != 1 || w.Successes != 0 || w.Failures["deadline"] != 1 || w.WastedMS < 2500 {
		t.Fatalf("runbook record %+v", w)
	}
	if r := got[events.ActionRestart]; r.Attempts != 4 || r.Successes != 4 || r.Class != "node" || len(r.Last) != 4 {
		t.Fatalf("restart record %+v", r)
	}
	if err := request(t, nc, events.VerbHealerRecord, events.HealerRecordRequest{Kind: "no such kind"}, &rec); !isControlError(err, events.CodeBadRequest) {
		t.Fatalf("a bad kind: %v", err)
	}
}

// incident kills node and waits until the healer restarted it and the
// monitor resolved its node_down; it returns the resolved anomaly.
func incident(t *testing.T, srv *natstest.Server, f *realFleet, a *audit, node string) *events.Anomaly {
	t.Helper()
	before := lastAnomaly(t, srv, events.KindNodeDown, node)
	f.kill(node)
	var an *events.Anomaly
	natstest.Eventually(t, 60*time.Second, func() bool {
		an = lastAnomaly(t, srv, events.KindNodeDown, node)
		return an != nil && an.State == events.AnomalyResolved && (before == nil || an.ID != before.ID)
	}, "node_down of %s opened and resolved", node)
	natstest.Eventually(t, 30*time.Second, func() bool {
		for _, r := range a.find(events.ActionRestart, events.PhaseSucceeded, "") {
			if r.AnomalyID == an.ID {
				return true
			}
		}
		return false
	}, "the restart of %s verified", node)
	return an
}

// requested are the requested events of an anomaly, oldest first.
func requested(a *audit, anomaly string) []events.Remediation {
	var out []events.Remediation
	for _, r := range a.find("", events.PhaseRequested, "") {
		if r.AnomalyID == anomaly {
			out = append(out, r)
		}
	}
	return out
}

// citesRecord: the choice gives the remedy's figures, with its failures.
func citesRecord(c *events.RemedyChoice, remedy string, attempts int) bool {
	for _, f := range c.Record {
		if f.Remedy == remedy {
			return f.Attempts == attempts && f.Successes == 0 && strings.Contains(c.Why, remedy)
		}
	}
	return false
}
