package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/cmd/wsheal/natsflag"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// run executes the CLI in-process with args against the stack's NATS and
// returns what it printed.
func (ds *devStack) run(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	natsOpts = natsflag.Flags{} // flags are package state: start clean every time
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--server", ds.NATSURL))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func (ds *devStack) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := ds.run(t, 30*time.Second, args...)
	if err != nil {
		t.Fatalf("wsheal %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func wantAll(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Fatalf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestCLIAgainstALiveStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	ds := startDev(t, "--demo-clients", "30", "--demo-rate", "10", "--quiet")

	t.Run("status", func(t *testing.T) {
		var out string
		natstest.Eventually(t, 30*time.Second, func() bool {
			out, _ = ds.run(t, 5*time.Second, "status")
			return strings.Count(out, "healthy") >= 3
		}, "three healthy nodes in:\n%s", out)
		wantAll(t, out, "NODE", "STATE", "gw-1", "gw-2", "gw-3", "3 nodes")
		var fs events.FleetStatus
		if err := json.Unmarshal([]byte(ds.mustRun(t, "status", "--json")), &fs); err != nil || len(fs.Nodes) != 3 {
			t.Fatalf("status --json: %v %+v", err, fs)
		}
	})
	t.Run("node", func(t *testing.T) {
		wantAll(t, ds.mustRun(t, "node", "gw-1"), "gw-1", "history:")
		_, err := ds.run(t, 5*time.Second, "node", "gw.bad")
		if err == nil {
			t.Fatal("a bad node id must be an error")
		}
	})
	t.Run("events", func(t *testing.T) {
		out, err := ds.run(t, 3*time.Second, "events", "--heartbeats", "--node", "gw-2")
		if err != nil {
			t.Fatal(err)
		}
		wantAll(t, out, "heartbeat", "gw-2")
		if strings.Contains(out, "gw-1 ") {
			t.Fatalf("--node gw-2 showed gw-1:\n%s", out)
		}
	})
	t.Run("gateway commands", func(t *testing.T) {
		wantAll(t, ds.mustRun(t, "resize", "gw-3", "--accept-rate", "50", "--id", "cli-resize-1"), "gw-3 resized", `"accept_rate":50`)
		wantAll(t, ds.mustRun(t, "resize", "gw-3", "--reset"), "gw-3 resized")
		wantAll(t, ds.mustRun(t, "reconnect", "gw-1", "--select", "all", "--count", "2", "--over", "1s"), "clients selected")
		if _, err := ds.run(t, 5*time.Second, "reconnect", "gw-1"); err == nil {
			t.Fatal("reconnect without --select must be refused")
		}
		wantAll(t, ds.mustRun(t, "drain", "gw-3", "--over", "2s"), "draining gw-3")
		wantAll(t, ds.mustRun(t, "undrain", "gw-3"), "gw-3 accepts clients again")
		out, err := ds.run(t, 5*time.Second, "drain", "gw-9")
		if err == nil || !strings.Contains(err.Error(), "is it running?") {
			t.Fatalf("drain of an absent node: %v %s", err, out)
		}
	})
	t.Run("healer", func(t *testing.T) {
		wantAll(t, ds.mustRun(t, "healer"), "healer", "policies")
		wantAll(t, ds.mustRun(t, "healer", "dry-run", "on"), "dry-run true")
		wantAll(t, ds.mustRun(t, "healer", "dry-run", "off"), "dry-run false")
		wantAll(t, ds.mustRun(t, "healer", "pause", "--reason", "test"), "paused true")
		wantAll(t, ds.mustRun(t, "healer", "resume"), "paused false")
		wantAll(t, ds.mustRun(t, "healer", "hands-off", "gw-1", "--reason", "test"), "hands-off gw-1")
		if out := ds.mustRun(t, "healer", "hands-off", "gw-1", "--clear"); strings.Contains(out, "hands-off gw-1") {
			t.Fatalf("hands-off not cleared:\n%s", out)
		}
		wantAll(t, ds.mustRun(t, "healer", "policies"), "# source:", "node_down")
		wantAll(t, ds.mustRun(t, "healer", "actions"), "ACTION")
	})
	t.Run("incident lifecycle", func(t *testing.T) {
		var list events.ProcessList
		var ctx = context.Background()
		nc := connectTo(t, ds.NATSURL)
		if err := events.Request(ctx, nc, events.ControlSubject("dev", events.VerbList), nil, &list); err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Processes {
			if p.Name == "gw-2" {
				if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		var id string
		natstest.Eventually(t, 60*time.Second, func() bool {
			var l events.IncidentList
			if err := events.Request(ctx, nc, events.ControlSubject("notifier", events.VerbIncidentList), events.IncidentListRequest{State: "resolved"}, &l); err != nil {
				return false
			}
			for _, i := range l.Incidents {
				for _, n := range i.Nodes {
					if n == "gw-2" {
						id = i.ID
						return true
					}
				}
			}
			return false
		}, "no resolved incident for the killed gw-2")
		wantAll(t, ds.mustRun(t, "incidents"), id, "resolved")
		wantAll(t, ds.mustRun(t, "incidents", "show", id), id, "timeline:", "anomaly")
		wantAll(t, ds.mustRun(t, "incidents", "note", id, "checked by the test"), "noted")
		wantAll(t, ds.mustRun(t, "incidents", "show", id), "checked by the test")
		wantAll(t, ds.mustRun(t, "incidents", "note", id, "--false-positive", "the test killed it"), "noted")
		wantAll(t, ds.mustRun(t, "incidents", "show", id), "false positive: the test killed it")
		wantAll(t, ds.mustRun(t, "healer", "record"), "KIND", "REMEDY", "MEDIAN VERIFY")
		var rec events.HealerRecord
		natstest.Eventually(t, 30*time.Second, func() bool {
			if err := json.Unmarshal([]byte(ds.mustRun(t, "healer", "record", "--json")), &rec); err != nil {
				t.Fatalf("healer record --json: %v", err)
			}
			return len(rec.Records) > 0 && rec.Records[0].Kind == events.KindNodeDown && rec.Records[0].Remedy == events.ActionRestart
		}, "the restart of gw-2 in the healer's record: %+v", rec.Records)
		wantAll(t, ds.mustRun(t, "healer", "record", "--kind", "node_down"), "node_down", "restart")
		wantAll(t, ds.mustRun(t, "healer", "actions"), "requested", "[pinned: ")
		var out string
		natstest.Eventually(t, 30*time.Second, func() bool {
			out, _ = ds.run(t, 5*time.Second, "review", id)
			return strings.Contains(out, "MTTR")
		}, "no review for %s:\n%s", id, out)
		var rev events.Review
		if err := json.Unmarshal([]byte(ds.mustRun(t, "review", id, "--json")), &rev); err != nil || rev.IncidentID != id || rev.MTTRMS <= 0 {
			t.Fatalf("review --json: %v %+v", err, rev)
		}
		wantAll(t, ds.mustRun(t, "incidents", "silence", "--node", "gw-*", "--for", "1m", "--comment", "cli test"), "cli test")
		wantAll(t, ds.mustRun(t, "incidents", "silence", "--list"), "gw-*")
		wantAll(t, ds.mustRun(t, "anomalies"), "fleet rule: ", "fleet_degraded", "rtt_degraded")
	})
	t.Run("config", func(t *testing.T) {
		wantAll(t, ds.mustRun(t, "config", "gateway"), "WSHEAL_GATEWAY_NATS_URL", "WSHEAL_GATEWAY_PING_INTERVAL")
	})
}

func connectTo(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
