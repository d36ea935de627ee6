package detect

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// CorrelationConfig is the rule that tells a sick node from a sick host:
// a condition seen on more than Share of the active nodes (and on at
// least MinNodes) is the fleet's, like Envoy's max_ejection_percent caps
// how much of a cluster outlier detection may eject.
type CorrelationConfig struct {
	Share      float64 `envconfig:"FLEET_SHARE" default:"0.5" desc:"a condition on more than this share of the active nodes is the fleet's: one fleet_degraded anomaly, no node remedy (like Envoy's max_ejection_percent)"`
	MinNodes   int     `envconfig:"FLEET_MIN_NODES" default:"2" desc:"and it must be on at least this many nodes"`
	ClearAfter int     `envconfig:"FLEET_CLEAR_AFTER" default:"2" desc:"fleet rounds in a row in which most nodes' latest samples are good and the fleet shared no heartbeat lapse before fleet_degraded clears (node verdicts of correlated kinds are held until then)"`
}

// DefaultCorrelation returns the correlation defaults.
func DefaultCorrelation() CorrelationConfig {
	return CorrelationConfig{Share: 0.5, MinNodes: 2, ClearAfter: 2}
}

// Shared reports whether bad of active nodes is a fleet-wide shift.
func (c CorrelationConfig) Shared(bad, active int) bool {
	return bad >= max(c.MinNodes, 1) && float64(bad) > c.Share*float64(active)
}

// Correlated are the kinds that several nodes can show at once because of
// a common cause; a node anomaly of these kinds opens only when the node
// stands out from healthy peers.
var Correlated = map[string]bool{
	events.KindRTTDegraded: true, events.KindStaleSpike: true, events.KindSlowConsumers: true,
	events.KindErrorRate: true, events.KindNodeHung: true, events.KindDataPlaneErrors: true,
	events.KindNotRecovered: true,
}

// Shift is the nodes degraded by one correlated kind in a fleet round.
// Nodes are degraded (the detector fires, or is one bad sample short of
// firing); Now are those whose latest sample is bad too, the nodes in
// the condition at this round.
type Shift struct {
	Kind  string
	Nodes []string
	Now   []string
}

// FleetDegraded raises one fleet-level anomaly while any correlated kind
// is shared by most of the fleet. While it fires, node verdicts of
// correlated kinds are held: the fleet's own recent past is degraded, so
// no node stands out from healthy peers.
//
// Hysteresis: it fires in the first round in which a kind is shared by
// nodes that are both degraded and bad in their latest sample; it clears
// after ClearAfter rounds in a row in which no kind's latest samples are
// bad on a shared set and the fleet shared no heartbeat lapse (a stall of
// every node, as a loaded host gives, breaks the run). So it ends about
// ClearAfter rounds after peers are healthy again, while the node
// detectors, which clear on their own hysteresis, still hold their
// verdicts until they clear.
type FleetDegraded struct {
	cfg  CorrelationConfig
	gate Gate
	last []Shift
}

// NewFleetDegraded returns the fleet correlation detector.
func NewFleetDegraded(cfg CorrelationConfig) *FleetDegraded {
	return &FleetDegraded{cfg: cfg, gate: Gate{FireAfter: 1, ClearAfter: max(cfg.ClearAfter, 1)}}
}

// Kind is the anomaly kind it raises.
func (d *FleetDegraded) Kind() string { return events.KindFleetDegraded }

// Config returns the rule.
func (d *FleetDegraded) Config() CorrelationConfig { return d.cfg }

// Firing reports whether the fleet is degraded as a whole.
func (d *FleetDegraded) Firing() bool { return d.gate.Firing() }

// SharedShifts returns the shifts that more than Share of active nodes
// show now: degraded, with a bad latest sample.
func (d *FleetDegraded) SharedShifts(active int, shifts []Shift) []Shift {
	var out []Shift
	for _, s := range shifts {
		if d.cfg.Shared(len(both(s.Nodes, s.Now)), active) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// both returns the nodes in a and in b.
func both(a, b []string) []string {
	var out []string
	for _, n := range a {
		if slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// Observe feeds one fleet round: active nodes, per correlated kind the
// nodes degraded by it, and whether most of the fleet missed heartbeats
// at once since the previous round.
func (d *FleetDegraded) Observe(at time.Time, active int, shifts []Shift, lapsed bool) *Transition {
	shared := d.SharedShifts(active, shifts)
	v := Good
	switch {
	case len(shared) > 0:
		v, d.last = Bad, shared
	case lapsed && d.gate.Firing():
		v = Hold // a shared stall: the fleet is not well yet
	}
	fired, cleared := d.gate.Observe(v, at)
	if !fired && !cleared {
		return nil
	}
	t := &Transition{Kind: d.Kind(), Target: events.FleetTarget, Open: fired, Start: d.gate.Start(), At: at, Severity: events.SeverityWarning}
	nodes, parts, share := map[string]bool{}, []string(nil), 0.0
	for _, s := range d.last {
		for _, n := range s.Nodes {
			nodes[n] = true
		}
		parts = append(parts, fmt.Sprintf("%s on %d of %d nodes", s.Kind, len(s.Nodes), active))
		share = max(share, float64(len(s.Nodes))/float64(max(active, 1)))
	}
	for n := range nodes {
		t.Nodes = append(t.Nodes, n)
	}
	sort.Strings(t.Nodes)
	t.Evidence = events.Evidence{Metric: "degraded_share", Value: share, Threshold: d.cfg.Share, Detail: strings.Join(parts, "; ")}
	t.Summary = fmt.Sprintf("the fleet degraded as a whole (%s): a host, network or NATS cause; node remedies are held", strings.Join(parts, "; "))
	return t
}

// Seed restores a firing state.
func (d *FleetDegraded) Seed(start time.Time) { d.gate.Seed(start) }
