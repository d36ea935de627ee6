package detect

import (
	"fmt"
	"sort"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// StormConfig tunes the reconnect storm detector (fleet-wide).
type StormConfig struct {
	AcceptRate      float64 `envconfig:"STORM_ACCEPT_RATE" default:"500" desc:"accepted upgrades/s across the fleet"`
	LeaveAcceptRate float64 `envconfig:"STORM_LEAVE_ACCEPT_RATE" default:"250" desc:"below this it is good"`
	RejectRate      float64 `envconfig:"STORM_REJECT_RATE" default:"50" desc:"rejected upgrades/s across the fleet"`
	LeaveRejectRate float64 `envconfig:"STORM_LEAVE_REJECT_RATE" default:"10" desc:"below this rejected upgrades/s the storm is over"`
}

// DefaultStorm returns the reconnect storm defaults.
func DefaultStorm() StormConfig {
	return StormConfig{AcceptRate: 500, LeaveAcceptRate: 250, RejectRate: 50, LeaveRejectRate: 10}
}

// Storm fires when the whole fleet accepts or rejects upgrades at a rate
// that means clients are reconnecting en masse.
type Storm struct {
	cfg  StormConfig
	gate Gate
}

// NewStorm returns a reconnect storm detector.
func NewStorm(cfg StormConfig, h Hysteresis) *Storm {
	return &Storm{cfg: cfg, gate: Gate{FireAfter: h.FireAfter, ClearAfter: h.ClearAfter}}
}

// Kind is the anomaly kind it raises.
func (d *Storm) Kind() string { return events.KindReconnectStorm }

// Rates sums the accept and reject rates of the latest snapshots.
func Rates(snaps []Sample) (accept, reject float64) {
	for _, s := range snaps {
		accept += s.Health.AcceptRate
		reject += float64(s.Health.Rejected) / s.interval().Seconds()
	}
	return accept, reject
}

// Observe feeds one fleet round at at: the latest snapshot of every live node.
func (d *Storm) Observe(at time.Time, snaps []Sample) *Transition {
	accept, reject := Rates(snaps)
	v := Hold
	switch {
	case accept >= d.cfg.AcceptRate || reject >= d.cfg.RejectRate:
		v = Bad
	case accept < d.cfg.LeaveAcceptRate && reject < d.cfg.LeaveRejectRate:
		v = Good
	}
	fired, cleared := d.gate.Observe(v, at)
	if !fired && !cleared {
		return nil
	}
	t := &Transition{Kind: d.Kind(), Target: events.FleetTarget, Open: fired, Start: d.gate.Start(), At: at, Severity: events.SeverityError}
	t.Evidence = events.Evidence{Metric: "fleet_accept_rate", Value: accept, Threshold: d.cfg.AcceptRate,
		Detail: fmt.Sprintf("rejected %.1f/s (threshold %.0f/s) over %d nodes", reject, d.cfg.RejectRate, len(snaps))}
	if reject >= d.cfg.RejectRate && accept < d.cfg.AcceptRate {
		t.Evidence.Metric, t.Evidence.Value, t.Evidence.Threshold = "fleet_reject_rate", reject, d.cfg.RejectRate
	}
	t.Summary = fmt.Sprintf("reconnect storm: %.0f upgrades/s accepted, %.0f/s rejected", accept, reject)
	return t
}

// Seed restores a firing state.
func (d *Storm) Seed(start time.Time) { d.gate.Seed(start) }

// ImbalanceConfig tunes the load imbalance detector.
type ImbalanceConfig struct {
	Ratio      float64 `envconfig:"IMBALANCE_RATIO" default:"1.5" desc:"max/mean connections to enter"`
	LeaveRatio float64 `envconfig:"IMBALANCE_LEAVE_RATIO" default:"1.2" desc:"below this it is good"`
	MinDiff    float64 `envconfig:"IMBALANCE_MIN_DIFF" default:"5" desc:"and the hottest node holds at least this many connections above the mean (any fleet size)"`
	MinNodes   int     `envconfig:"IMBALANCE_MIN_NODES" default:"2" desc:"nodes needed for the imbalance detector"`
}

// DefaultImbalance returns the imbalance defaults.
func DefaultImbalance() ImbalanceConfig {
	return ImbalanceConfig{Ratio: 1.5, LeaveRatio: 1.2, MinDiff: 5, MinNodes: 2}
}

// Load is one node's connection count in a fleet round.
type Load struct {
	Node        string
	Connections int
}

// Imbalance fires when the hottest node holds far more connections than
// the mean: the trigger for rebalancing. Its target is the fleet; the
// hottest node is its first node.
type Imbalance struct {
	cfg  ImbalanceConfig
	gate Gate
}

// NewImbalance returns an imbalance detector.
func NewImbalance(cfg ImbalanceConfig, h Hysteresis) *Imbalance {
	return &Imbalance{cfg: cfg, gate: Gate{FireAfter: h.FireAfter, ClearAfter: h.ClearAfter}}
}

// Kind is the anomaly kind it raises.
func (d *Imbalance) Kind() string { return events.KindImbalance }

// Observe feeds one fleet round of the nodes that take connections.
func (d *Imbalance) Observe(at time.Time, loads []Load) *Transition {
	v, ratio, hot, mean := Hold, 0.0, Load{}, 0.0
	if len(loads) < max(d.cfg.MinNodes, 2) {
		v = Good
	} else {
		sorted := append([]Load(nil), loads...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Connections > sorted[j].Connections })
		hot, mean = sorted[0], 0
		for _, l := range sorted {
			mean += float64(l.Connections)
		}
		mean /= float64(len(sorted))
		if mean > 0 {
			ratio = float64(hot.Connections) / mean
		}
		v = d.judge(ratio, float64(hot.Connections)-mean)
	}
	fired, cleared := d.gate.Observe(v, at)
	if !fired && !cleared {
		return nil
	}
	t := &Transition{Kind: d.Kind(), Target: events.FleetTarget, Open: fired, Start: d.gate.Start(), At: at, Severity: events.SeverityInfo}
	if hot.Node != "" {
		t.Nodes = []string{hot.Node}
	}
	t.Evidence = events.Evidence{Metric: "max_over_mean_connections", Value: ratio, Threshold: d.cfg.Ratio,
		Detail: fmt.Sprintf("hottest %s holds %d, mean %.0f over %d nodes", hot.Node, hot.Connections, mean, len(loads))}
	t.Summary = fmt.Sprintf("load imbalance: %s holds %.1fx the mean", hot.Node, ratio)
	return t
}

// judge is relative to the fleet, whatever its size: max/mean at or
// above Ratio with the hottest node at least MinDiff above the mean is
// bad; below LeaveRatio, or less than MinDiff/2 above the mean, is good.
func (d *Imbalance) judge(ratio, diff float64) Verdict {
	switch {
	case ratio >= d.cfg.Ratio && diff >= d.cfg.MinDiff:
		return Bad
	case ratio < d.cfg.LeaveRatio || diff < d.cfg.MinDiff/2:
		return Good
	}
	return Hold
}

// Seed restores a firing state.
func (d *Imbalance) Seed(start time.Time) { d.gate.Seed(start) }
