package compose

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// TestComposeFleetChanges makes the planned changes of a running stack,
// under load through the load balancer: a rolling upgrade of everything,
// then the gateways scaled from three to five and back (scaleUnderLoad).
// Neither opens an incident, pages anyone or makes the healer act.
//
// The rolling upgrade is done the way the README
// says (`make upgrade` with a new build: here a new version string, so
// the binary and the image differ) while clients publish and subscribe
// through the load balancer: every gateway is replaced by one of the new
// image, one at a time, and every control-plane replica recreated; no
// subscriber misses or repeats an acknowledged message, no incident is
// opened, nobody is paged, the healer acts on nothing, and the rollout
// reports its duration and the peak accept rate a node saw.
func TestComposeFleetChanges(t *testing.T) {
	if testing.Short() || os.Getenv("WSHEAL_E2E") == "0" {
		t.Skip("SKIP compose scale and rolling upgrade e2e: -short or WSHEAL_E2E=0")
	}
	compose := composeCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := newStack(t, compose)
	s.build(ctx)
	s.up(ctx)
	nc := s.operator()
	audit := watchRemediations(t, nc)
	changes := watchIncidents(t, nc)

	before := s.gateways(ctx)
	f := newFleet(ctx, t, s.entry(), "upgrade", 24)
	f.publish(ctx, s.entry(), 50*time.Millisecond)
	eventually(t, 30*time.Second, "messages flowing", func() bool { return f.count() >= 20 })
	t.Logf("before: gateways %v, subscribers per node %v", before, f.perNode())

	version := fmt.Sprintf("0.2.0-upgrade.%d", time.Now().Unix())
	start := time.Now()
	out, err := s.run(ctx, "make", "-C", "../..", "upgrade", "COMPOSE_PROJECT="+s.project, "VERSION="+version, "ROLLOUT_ARGS=--drain-over 5s")
	t.Logf("make upgrade (%s):\n%s", time.Since(start).Round(time.Second), tail(out, 40))
	if err != nil {
		t.Fatalf("make upgrade: %v", err)
	}
	summary := regexp.MustCompile(`rollout: (\d+) replaced, (\d+) already current, in (\S+); peak accept rate ([\d.]+)/s \((\S+)\); incidents opened: (\d+)`).FindStringSubmatch(out)
	if summary == nil || summary[1] != "3" || summary[6] != "0" {
		t.Fatalf("rollout summary %q: want 3 gateways replaced and no incident", summary)
	}
	t.Logf("rollout of 3 gateways took %s, peak accept rate %s/s on %s", summary[3], summary[4], summary[5])

	after := s.gateways(ctx)
	t.Run("every gateway replaced and on the new version", func(t *testing.T) {
		if len(after) != 3 {
			t.Fatalf("gateways after the upgrade %v, want three", after)
		}
		for _, g := range after {
			if slices.Contains(before, g) {
				t.Errorf("%s was not replaced", g.node)
			}
		}
		var fs events.FleetStatus
		eventually(t, 30*time.Second, "the monitor sees three healthy nodes of the new version", func() bool {
			if err := events.Request(ctx, nc, events.ControlSubject(events.ServiceMonitor, events.VerbStatus), events.FleetStatusRequest{State: events.NodeHealthy}, &fs); err != nil {
				return false
			}
			n := 0
			for _, row := range fs.Nodes {
				if row.Version == version {
					n++
				}
			}
			return n == 3
		})
		for _, svc := range []string{"monitor", "monitor-2", "healer", "healer-2", "notifier", "notifier-2"} {
			id := s.container(ctx, svc)
			if img, want := s.inspect(ctx, id, "{{.Image}}"), s.docker(ctx, "image", "inspect", "-f", "{{.Id}}", "wsheal:"+s.project); img != want {
				t.Errorf("%s runs %s, not the new image %s", svc, img, want)
			}
		}
	})
	eventually(t, 60*time.Second, "every subscriber connected", func() bool { return f.perNode()[""] == 0 })
	t.Logf("after: gateways %v, subscribers per node %v", after, f.perNode())
	f.stopPublishing()
	t.Run("nothing lost or repeated", func(t *testing.T) {
		eventually(t, 90*time.Second, "every subscriber has every acknowledged message", func() bool { return f.missing() == "" })
		f.verify(t)
	})
	// Then the scale, the upgrade's clients still connected (idle).
	t.Run("scale 3 to 5 to 3", func(t *testing.T) { scaleUnderLoad(ctx, t, s) })
	t.Run("no incident, no page, no remedy for the planned changes", func(t *testing.T) {
		changes.mu.Lock()
		n := len(changes.list)
		changes.mu.Unlock()
		if n != 0 {
			t.Errorf("%d incident changes during planned changes", n)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/received", s.ports["WSHEAL_RECEIVER_PORT"])
		if got := receiverGot(ctx, t, url); len(got) != 0 {
			t.Errorf("notifications sent during planned changes: %v", got)
		}
		audit.mu.Lock()
		defer audit.mu.Unlock()
		for _, r := range audit.seen {
			if r.Phase == events.PhaseStarted || r.Phase == events.PhaseSucceeded || r.Phase == events.PhaseFailed {
				t.Errorf("the healer acted during planned changes: %s %s %s (%s)", r.Action, r.Target, r.Phase, r.Reason)
			}
		}
	})
	t.Run("no permission violations", func(t *testing.T) {
		if v := s.violations(ctx); len(v) > 0 {
			t.Errorf("NATS refused %d operations:\n%s", len(v), strings.Join(v, "\n"))
		}
	})
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
