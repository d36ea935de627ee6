package gate

import (
	"fmt"
	"sort"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
	"github.com/wsheal/wsheal/services/healer/state"
)

// Scale holds the settings of the scale gates: the fleet's size bounds and
// the least time between two scales.
type Scale struct {
	// Min is the fewest nodes accepting clients that a scale-in leaves, at
	// least 1; Max the most known nodes a scale-out reaches.
	Min int `envconfig:"SCALE_MIN" default:"1" desc:"fewest gateway nodes accepting clients that a scale-in (fleet_underused) leaves"`
	Max int `envconfig:"SCALE_MAX" default:"10" desc:"most gateway nodes a scale-out (fleet_saturated) reaches, unhealthy ones counted; at it the healer escalates instead"`
	// Cooldown is the least time after any scale before a scale-out;
	// InCooldown before a scale-in (longer: a fleet just grown is not
	// shrunk while its load settles).
	Cooldown   time.Duration `envconfig:"SCALE_COOLDOWN" default:"2m" desc:"least time after any scale of the fleet before a scale-out"`
	InCooldown time.Duration `envconfig:"SCALE_IN_COOLDOWN" default:"5m" desc:"least time after any scale of the fleet before a scale-in (longer: a fleet just grown is not shrunk while its load settles)"`
}

// Validate fails on bounds that leave no fleet or a negative cooldown,
// naming the variable under prefix (the service's, e.g. WSHEAL_HEALER).
func (sc Scale) Validate(prefix string) error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%s_%s=%v: want %s", prefix, name, v, want)
	}
	switch {
	case sc.Min < 1 || sc.Min > 1000:
		return bad("SCALE_MIN", sc.Min, "1..1000: the last node is never removed")
	case sc.Max < sc.Min || sc.Max > 1000:
		return bad("SCALE_MAX", sc.Max, fmt.Sprintf("SCALE_MIN (%d)..1000", sc.Min))
	case sc.Cooldown < 0:
		return bad("SCALE_COOLDOWN", sc.Cooldown, "0 or more")
	case sc.InCooldown < 0:
		return bad("SCALE_IN_COOLDOWN", sc.InCooldown, "0 or more")
	}
	return nil
}

// scaleStep returns the signed step of the scale the action gates hold
// back now (0: the next step is no scale, or an attempt resumed after a
// replica died during it, which passed the gates when it began).
func scaleStep(c state.Case, s Snapshot) int {
	step, _, resumed, ok := Next(c, s)
	if !ok || resumed || step.Action != events.ActionScale {
		return 0
	}
	return step.Scale
}

// scaleBounds: a scale-out past Max known nodes (a person must raise the
// bound or add hosts: escalated), or a scale-in below Min accepting nodes
// (the fleet is as small as allowed: done).
func scaleBounds(l Limits, c state.Case, s Snapshot) Verdict {
	n := fleet.Count(s.Fleet)
	switch by := scaleStep(c, s); {
	case by > 0 && n.Nodes+by > l.Scale.Max:
		v := finish(events.SkipScaleBounds, fmt.Sprintf("the fleet has %d nodes and WSHEAL_HEALER_SCALE_MAX is %d: no node is added; raise it or add capacity by hand",
			n.Nodes, l.Scale.Max))
		v.Alarm = true
		return v
	case by < 0 && n.Accepting+by < l.Scale.Min:
		return finish(events.SkipScaleBounds, fmt.Sprintf("%d nodes accept clients and WSHEAL_HEALER_SCALE_MIN is %d: no node is removed",
			n.Accepting, l.Scale.Min))
	}
	return cont()
}

// scaleHold: a scale-in waits until every node of the fleet is healthy
// and accepting, none is quarantined or under a hands-off lock (a rollout
// holds one on the node it replaces), and the fleet is not degraded as a
// whole: a node is removed only from a fleet at rest.
func scaleHold(l Limits, c state.Case, s Snapshot) Verdict {
	if scaleStep(c, s) >= 0 {
		return cont()
	}
	hold := func(why string) Verdict {
		return wait(events.SkipScaleHold, why+": no node is removed until it is over", l.Wait)
	}
	for _, n := range s.Fleet {
		switch {
		case !n.Healthy:
			return hold("node " + n.ID + " is not healthy")
		case s.HandsOff[n.ID]:
			return hold("node " + n.ID + " is under a hands-off lock (a rollout holds one)")
		case s.Quarantined[n.ID]:
			return hold("node " + n.ID + " is quarantined")
		case n.Draining:
			return hold("node " + n.ID + " is draining")
		}
	}
	if d := s.Degraded; d != nil && d.State == events.AnomalyOpen {
		return hold("the fleet is degraded as a whole (" + d.Summary + ")")
	}
	return cont()
}

// scaleCooldown: too soon after the fleet's last scale, either way.
func scaleCooldown(l Limits, c state.Case, s Snapshot) Verdict {
	by := scaleStep(c, s)
	if by == 0 {
		return cont()
	}
	last := s.Backoff[BackoffKey(events.FleetTarget, events.ActionScale)].Last
	cd, name := l.Scale.Cooldown, "WSHEAL_HEALER_SCALE_COOLDOWN"
	if by < 0 {
		cd, name = l.Scale.InCooldown, "WSHEAL_HEALER_SCALE_IN_COOLDOWN"
	}
	if last.IsZero() {
		return cont()
	}
	if w := last.Add(cd).Sub(s.Now); w > 0 {
		return wait(events.SkipScaleCooldown, fmt.Sprintf("the fleet was scaled %s ago and %s is %s: the next scale in %s",
			s.Now.Sub(last).Round(time.Second), name, cd, w.Round(time.Second)), w)
	}
	return cont()
}

// ScaleInNode is the node a scale-in removes: among the accepting nodes
// under no lock or quarantine, the one holding the fewest connections
// (the fewest clients to move), then the most recently started, then the
// highest id. ok is false when there is none.
func ScaleInNode(s Snapshot) (fleet.Node, bool) {
	nodes := Loads(s)
	if len(nodes) == 0 {
		return fleet.Node{}, false
	}
	sort.Slice(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if a.Connections != b.Connections {
			return a.Connections < b.Connections
		}
		if !a.StartedAt.Equal(b.StartedAt) {
			return a.StartedAt.After(b.StartedAt)
		}
		return a.ID > b.ID
	})
	return nodes[0], true
}
