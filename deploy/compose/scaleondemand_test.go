package compose

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

// scaleOnDemand is the override of TestComposeScaleOnDemand: small
// gateways (40 clients each: a fleet of three holds 120), short capacity
// windows for the monitors, and the healers' fleet between three and four
// nodes with short cooldowns.
const scaleOnDemand = `services:
  gateway:
    environment:
      WSHEAL_GATEWAY_MAX_CONNS: "40"
  monitor:
    environment: &capacity
      WSHEAL_MONITOR_FLEET_SATURATED_FOR: 10s
      WSHEAL_MONITOR_FLEET_UNDERUSED_FOR: 30s
  monitor-2:
    environment: *capacity
  healer:
    environment: &scale
      WSHEAL_HEALER_SCALE_MIN: "3"
      WSHEAL_HEALER_SCALE_MAX: "4"
      WSHEAL_HEALER_SCALE_COOLDOWN: 30s
      WSHEAL_HEALER_SCALE_IN_COOLDOWN: 60s
  healer-2:
    environment: *scale
`

// scaleLog keeps the scale decisions with the time each was heard.
type scaleLog struct {
	mu   sync.Mutex
	seen []events.Remediation
	at   []time.Time
}

func watchScales(t *testing.T, nc *nats.Conn) *scaleLog {
	l := &scaleLog{}
	sub, err := nc.Subscribe(events.RemediationsAll, func(m *nats.Msg) {
		e, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		if r, ok := events.As[*events.Remediation](e); ok && r.Action == events.ActionScale {
			l.mu.Lock()
			l.seen, l.at = append(l.seen, *r), append(l.at, time.Now())
			l.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

// find returns the first scale by step in phase, and when it was heard.
func (l *scaleLog) find(step float64, phase string) (events.Remediation, time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range l.seen {
		if r.Phase == phase && r.Params["step"] == step {
			return r, l.at[i], true
		}
	}
	return events.Remediation{}, time.Time{}, false
}

// TestComposeScaleOnDemand drives a fleet of three small gateways past
// its capacity through the load balancer: the clients past it are shed
// (503) and retry; the monitors see the fleet saturated, a healer clones
// a gateway container, and the clients spread onto it. Once the extra
// clients leave, the fleet is underused: a healer drains the least loaded
// node at a pace, stops and removes it, and the subscribers that stayed
// lose no acknowledged message.
func TestComposeScaleOnDemand(t *testing.T) {
	if testing.Short() || os.Getenv("WSHEAL_E2E") == "0" {
		t.Skip("SKIP compose scale-on-demand e2e: -short or WSHEAL_E2E=0")
	}
	compose := composeCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Minute)
	defer cancel()
	s := newStack(t, compose)
	override := filepath.Join(t.TempDir(), "scale-on-demand.yml")
	if err := os.WriteFile(override, []byte(scaleOnDemand), 0o644); err != nil {
		t.Fatal(err)
	}
	s.files = []string{override}
	s.build(ctx)
	s.up(ctx)
	nc := s.operator()
	scales := watchScales(t, nc)
	before := s.gateways(ctx)
	if len(before) != 3 {
		t.Fatalf("gateways %v, want three", before)
	}

	stay := newFleet(ctx, t, s.entry(), "demand", 40)
	stay.publish(ctx, s.entry(), 50*time.Millisecond)
	eventually(t, 30*time.Second, "messages flowing", func() bool { return stay.count() >= 20 })

	var added gatewayReplica
	var extra *fleet
	t.Run("saturated: a gateway is added and clients spread onto it", func(t *testing.T) {
		began := time.Now()
		// 85 more: 125 clients for a capacity of 120. The last are shed
		// and retry until the new node takes them: this returns once every
		// one is connected.
		extra = newFleet(ctx, t, s.entry(), "demand-extra", 85)
		r, at, ok := scales.find(1, events.PhaseSucceeded)
		if !ok {
			eventually(t, 3*time.Minute, "a scale-out succeeded", func() bool { _, _, ok := scales.find(1, events.PhaseSucceeded); return ok })
			r, at, _ = scales.find(1, events.PhaseSucceeded)
		}
		req, reqAt, _ := scales.find(1, events.PhaseRequested)
		t.Logf("scale-out requested %s after the load began (%s); the new gateway healthy %s later: %s",
			reqAt.Sub(began).Round(100*time.Millisecond), req.Detail, at.Sub(reqAt).Round(100*time.Millisecond), r.Detail)
		now := s.gateways(ctx)
		if len(now) != 4 {
			t.Fatalf("gateways %v, want four", now)
		}
		for _, g := range now {
			if !slices.Contains(before, g) {
				added = g
			}
		}
		if !strings.Contains(r.Detail, "added node "+added.node) {
			t.Fatalf("the scale-out names %q, the new replica is %s", r.Detail, added)
		}
		eventually(t, 2*time.Minute, "clients on the new node", func() bool {
			return stay.perNode()[added.node]+extra.perNode()[added.node] >= 10
		})
		t.Logf("four gateways: clients per node %v and %v, %s after the load began", stay.perNode(), extra.perNode(),
			time.Since(began).Round(100*time.Millisecond))
	})
	if added.node == "" {
		t.FailNow()
	}
	t.Run("underused: a gateway drains and goes", func(t *testing.T) {
		disconnectAll(extra)
		began := time.Now()
		eventually(t, 4*time.Minute, "a scale-in succeeded", func() bool { _, _, ok := scales.find(-1, events.PhaseSucceeded); return ok })
		r, at, _ := scales.find(-1, events.PhaseSucceeded)
		req, reqAt, _ := scales.find(-1, events.PhaseRequested)
		t.Logf("scale-in requested %s after the extra clients left (%s); done %s later: %s",
			reqAt.Sub(began).Round(100*time.Millisecond), req.Detail, at.Sub(reqAt).Round(100*time.Millisecond), r.Detail)
		now := s.gateways(ctx)
		if len(now) != 3 {
			t.Fatalf("gateways %v, want three", now)
		}
		eventually(t, 60*time.Second, "every subscriber on a remaining node", func() bool {
			for n, c := range stay.perNode() {
				if c > 0 && !slices.ContainsFunc(now, func(g gatewayReplica) bool { return g.node == n }) {
					return false
				}
			}
			return true
		})
		t.Logf("three gateways %v: subscribers per node %v", now, stay.perNode())
	})
	stay.stopPublishing()
	t.Run("nothing lost", func(t *testing.T) {
		eventually(t, 90*time.Second, "every subscriber has every acknowledged message", func() bool { return stay.missing() == "" })
		stay.verify(t)
	})
	t.Run("no permission violations", func(t *testing.T) {
		if v := s.violations(ctx); len(v) > 0 {
			t.Errorf("NATS refused %d operations:\n%s", len(v), strings.Join(v, "\n"))
		}
	})
}

// disconnectAll closes every subscriber of f: its clients leave.
func disconnectAll(f *fleet) {
	f.mu.Lock()
	subs := slices.Clone(f.subs)
	f.mu.Unlock() // a closing client reports its state under f.mu
	for _, s := range subs {
		_ = s.c.Close()
	}
}
