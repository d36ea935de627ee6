package healer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

const scalePolicies = `policies:
  - name: out
    kinds: [fleet_saturated]
    actions:
      - action: scale
        step: +1
        deadline: 30s
  - name: in
    kinds: [fleet_underused]
    actions:
      - action: scale
        step: -1
        deadline: 30s
`

// Under wsheal dev no gateway can be added: the healer does not retry a
// scale-out the executor cannot make, it escalates at once and says what
// to do instead; a scale-in it cannot make is skipped without a page.
func TestScaleUnsupportedEscalates(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 90, 100)
	f.add("n2", 90, 100)
	a := watchAudit(t, srv)
	cfg := testConfig(t, srv) // RESTART=dev
	cfg.Policies = writePolicies(t, scalePolicies)
	cfg.Scale.InCooldown = 0 // the failed scale-out counts as a scale
	startHealer(t, cfg)
	newPublisher(t, srv).open(events.KindFleetSaturated, events.FleetTarget, events.SeverityWarning, "n1", "n2")
	natstest.Eventually(t, 20*time.Second, func() bool {
		return len(a.find(events.ActionEscalate, events.PhaseSucceeded, events.SkipUnsupported)) == 1
	}, "escalated as unsupported")
	esc := a.find(events.ActionEscalate, events.PhaseSucceeded, events.SkipUnsupported)[0]
	if !strings.Contains(esc.Detail, "not supported by this executor") || !esc.Escalate {
		t.Fatalf("escalation %+v", esc)
	}
	if n := len(a.find(events.ActionScale, events.PhaseFailed, "")); n != 1 {
		t.Fatalf("%d failed scales, want one: an unsupported scale is not retried", n)
	}
	req := a.find(events.ActionScale, events.PhaseRequested, "")
	if len(req) != 1 || req[0].Target != events.FleetTarget || req[0].Params["step"] != float64(1) ||
		!strings.Contains(req[0].Detail, "add a gateway node by policy out: fleet_saturated on fleet") {
		t.Fatalf("requested %+v", req)
	}

	// An idle fleet harms no client: a scale-in that cannot be made is
	// skipped, and nobody is paged for it.
	newPublisher(t, srv).open(events.KindFleetUnderused, events.FleetTarget, events.SeverityInfo, "n1", "n2")
	natstest.Eventually(t, 20*time.Second, func() bool {
		return len(a.find(events.ActionScale, events.PhaseSkipped, events.SkipUnsupported)) == 1
	}, "scale-in skipped as unsupported")
	if n := len(a.find(events.ActionEscalate, "", "")); n != 1 {
		t.Fatalf("%d escalations: the scale-in must page nobody", n)
	}
}

// The scale gates hold over real NATS: at the maximum size the healer adds
// nothing and escalates; a scale-in waits while a node is unhealthy, goes
// on when it is back, and stops at the minimum.
func TestScaleGates(t *testing.T) {
	srv := natstest.Start(t)
	f := newPeers(t, srv)
	f.add("n1", 90, 100)
	f.add("n2", 5, 100)
	f.add("n3", 5, 100)
	a := watchAudit(t, srv)
	cfg := testConfig(t, srv)
	cfg.Policies = writePolicies(t, scalePolicies)
	cfg.Scale.Min, cfg.Scale.Max, cfg.Scale.InCooldown = 3, 3, 0
	startHealer(t, cfg)
	pub := newPublisher(t, srv)

	pub.open(events.KindFleetSaturated, events.FleetTarget, events.SeverityWarning, "n1", "n2", "n3")
	natstest.Eventually(t, 20*time.Second, func() bool {
		return len(a.find(events.ActionScale, events.PhaseSkipped, events.SkipScaleBounds)) == 1 &&
			len(a.find(events.ActionEscalate, events.PhaseSucceeded, events.SkipScaleBounds)) == 1
	}, "held at the maximum, escalated")
	if d := a.find(events.ActionScale, events.PhaseSkipped, events.SkipScaleBounds)[0].Detail; !strings.Contains(d, "WSHEAL_HEALER_SCALE_MAX is 3") {
		t.Fatalf("skip says %q", d)
	}

	f.kill("n3", false)
	f.waitSilent(t, testStale, "n3")
	pub.open(events.KindFleetUnderused, events.FleetTarget, events.SeverityInfo, "n1", "n2")
	natstest.Eventually(t, 20*time.Second, func() bool {
		return len(a.find(events.ActionScale, events.PhaseSkipped, events.SkipScaleHold)) == 1
	}, "scale-in held while n3 is silent")
	if d := a.find(events.ActionScale, events.PhaseSkipped, events.SkipScaleHold)[0].Detail; !strings.Contains(d, "node n3 is not healthy") {
		t.Fatalf("hold says %q", d)
	}
	f.start("n3")
	natstest.Eventually(t, 20*time.Second, func() bool {
		return len(a.find(events.ActionScale, events.PhaseSkipped, events.SkipScaleBounds)) == 2
	}, "once n3 is back, the minimum (3) stops the scale-in")
	if n := len(a.find(events.ActionScale, events.PhaseStarted, "")); n != 0 {
		t.Fatalf("%d scales started: none may", n)
	}
}
