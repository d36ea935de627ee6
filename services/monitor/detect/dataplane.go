package detect

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// DataPlaneConfig tunes the data-plane detectors over Health.DataPlane.
type DataPlaneConfig struct {
	ErrorShare      float64 `envconfig:"DP_ERROR_SHARE" default:"0.2" desc:"failed subscribes and publishes / those answered, to enter data_plane_errors"`
	LeaveErrorShare float64 `envconfig:"DP_LEAVE_ERROR_SHARE" default:"0.05" desc:"below this it is good"`
	MinErrors       int     `envconfig:"DP_MIN_ERRORS" default:"5" desc:"fewer failures per interval are never data_plane_errors"`
	StoreEnter      float64 `envconfig:"DP_STORE_ENTER" default:"0.9" desc:"store or channel stream bytes / limit that enters store_full"`
	StoreLeave      float64 `envconfig:"DP_STORE_LEAVE" default:"0.8" desc:"below this store_full clears"`
	LimitEnter      float64 `envconfig:"DP_LIMIT_ENTER" default:"0.9" desc:"consumers or channels / limit that enters consumer_limit"`
	LimitLeave      float64 `envconfig:"DP_LIMIT_LEAVE" default:"0.8" desc:"below this consumer_limit clears"`
	LostShare       float64 `envconfig:"DP_NOT_RECOVERED_SHARE" default:"0.5" desc:"resumes answered recovered:false / resumes, to enter not_recovered"`
	LeaveLostShare  float64 `envconfig:"DP_LEAVE_NOT_RECOVERED_SHARE" default:"0.1" desc:"below this it is good"`
	MinLost         int     `envconfig:"DP_MIN_NOT_RECOVERED" default:"5" desc:"fewer recovered:false per interval are never not_recovered"`
}

// DefaultDataPlane returns the data-plane detectors' defaults.
func DefaultDataPlane() DataPlaneConfig {
	return DataPlaneConfig{ErrorShare: 0.2, LeaveErrorShare: 0.05, MinErrors: 5, StoreEnter: 0.9, StoreLeave: 0.8,
		LimitEnter: 0.9, LimitLeave: 0.8, LostShare: 0.5, LeaveLostShare: 0.1, MinLost: 5}
}

// share classifies part/whole against enter and leave, with a minimum
// count below which it is good.
func share(part, whole, minCount int, enter, leave float64) (Verdict, float64) {
	s := float64(part) / float64(max(whole, 1))
	v := verdict(s, enter, leave)
	if v == Bad && part < minCount {
		v = Good
	}
	return v, s
}

// DataPlaneErrors fires when a node's subscribes and publishes fail on
// the server side (the store or NATS refuses them), not by a client's
// mistake. Correlated: a cause every node shares (a full store, NATS
// down) is the fleet's.
type DataPlaneErrors struct {
	cfg DataPlaneConfig
	gates
}

// NewDataPlaneErrors returns the data-plane error-rate detector.
func NewDataPlaneErrors(cfg DataPlaneConfig, h Hysteresis) *DataPlaneErrors {
	return &DataPlaneErrors{cfg: cfg, gates: newGates(h.FireAfter, h.ClearAfter)}
}

// Kind implements NodeDetector.
func (d *DataPlaneErrors) Kind() string { return events.KindDataPlaneErrors }

// Observe implements NodeDetector.
func (d *DataPlaneErrors) Observe(s Sample, _ []Sample) *Transition {
	dp := s.Health.DataPlane
	failed, asked := dp.SubscribeErrors+dp.PublishErrors, dp.Subscribes+dp.Publishes
	v, sh := share(failed, asked, d.cfg.MinErrors, d.cfg.ErrorShare, d.cfg.LeaveErrorShare)
	t := d.step(d.Kind(), s.Health.Node, v, s.At)
	if t == nil {
		return nil
	}
	t.Severity = events.SeverityError
	t.Evidence = events.Evidence{Metric: "data_plane_error_share", Value: sh, Threshold: d.cfg.ErrorShare, WindowMS: s.interval().Milliseconds(),
		Detail: fmt.Sprintf("%d of %d subscribes failed, %d of %d publishes", dp.SubscribeErrors, dp.Subscribes, dp.PublishErrors, dp.Publishes)}
	t.Summary = fmt.Sprintf("%s: %.0f%% of subscribes and publishes fail on the server side", s.Health.Node, sh*100)
	return t
}

// NotRecovered fires when a node answers a rising share of its resumes
// with recovered:false: clients lose messages (retention too short for
// their time offline, or the stream was recreated).
type NotRecovered struct {
	cfg DataPlaneConfig
	gates
}

// NewNotRecovered returns the not_recovered detector.
func NewNotRecovered(cfg DataPlaneConfig, h Hysteresis) *NotRecovered {
	return &NotRecovered{cfg: cfg, gates: newGates(h.FireAfter, h.ClearAfter)}
}

// Kind implements NodeDetector.
func (d *NotRecovered) Kind() string { return events.KindNotRecovered }

// Observe implements NodeDetector.
func (d *NotRecovered) Observe(s Sample, _ []Sample) *Transition {
	dp := s.Health.DataPlane
	v, sh := share(dp.NotRecovered, dp.Resumes, d.cfg.MinLost, d.cfg.LostShare, d.cfg.LeaveLostShare)
	t := d.step(d.Kind(), s.Health.Node, v, s.At)
	if t == nil {
		return nil
	}
	t.Severity = events.SeverityWarning
	t.Evidence = events.Evidence{Metric: "not_recovered_share", Value: sh, Threshold: d.cfg.LostShare, WindowMS: s.interval().Milliseconds(),
		Detail: fmt.Sprintf("%d of %d resumes answered recovered:false", dp.NotRecovered, dp.Resumes)}
	t.Summary = fmt.Sprintf("%s: %.0f%% of resumes could not recover the missed messages", s.Health.Node, sh*100)
	return t
}

// Usage is the highest use of a data-plane limit in a fleet round.
type Usage struct {
	Metric string  // what is near its limit
	Value  float64 // used / limit
	Used   float64
	Limit  float64
	Nodes  []string // the nodes that report it
}

// use keeps the highest usage; ties gather their nodes.
func (u *Usage) use(metric, node string, used, limit float64) {
	if limit <= 0 {
		return
	}
	v := used / limit
	switch {
	case v > u.Value:
		*u = Usage{Metric: metric, Value: v, Used: used, Limit: limit, Nodes: []string{node}}
	case v == u.Value && v > 0 && metric == u.Metric:
		u.Nodes = append(u.Nodes, node)
	}
}

// StoreUsage is the highest of JetStream storage and channel stream bytes
// against their limits, over the snapshots of a fleet round.
func StoreUsage(snaps []Sample) Usage {
	var u Usage
	for _, s := range snaps {
		dp := s.Health.DataPlane
		u.use("store_used_over_limit", s.Health.Node, float64(dp.StoreUsed), float64(dp.StoreLimit))
		u.use("stream_bytes_over_limit", s.Health.Node, float64(dp.StreamBytes), float64(dp.StreamMaxBytes))
	}
	sort.Strings(u.Nodes)
	return u
}

// LimitUsage is the highest of consumers and channels against their
// limits, over the snapshots of a fleet round.
func LimitUsage(snaps []Sample) Usage {
	var u Usage
	for _, s := range snaps {
		dp := s.Health.DataPlane
		u.use("consumers_over_limit", s.Health.Node, float64(dp.Consumers), float64(dp.ConsumerLimit))
		u.use("channels_over_limit", s.Health.Node, float64(dp.Channels), float64(dp.ChannelLimit))
	}
	sort.Strings(u.Nodes)
	return u
}

// Limit is a fleet-level detector of a data-plane resource near its
// limit: the store (store_full) or consumers and channels
// (consumer_limit). The store and the stream are shared by every node, so
// its target is the fleet; the healer cannot free a disk, so the policy
// escalates.
type Limit struct {
	kind         string
	enter, leave float64
	usage        func([]Sample) Usage
	gate         Gate
}

// NewStoreFull returns the store_full detector.
func NewStoreFull(cfg DataPlaneConfig, h Hysteresis) *Limit {
	return &Limit{kind: events.KindStoreFull, enter: cfg.StoreEnter, leave: cfg.StoreLeave, usage: StoreUsage,
		gate: Gate{FireAfter: h.FireAfter, ClearAfter: h.ClearAfter}}
}

// NewConsumerLimit returns the consumer_limit detector.
func NewConsumerLimit(cfg DataPlaneConfig, h Hysteresis) *Limit {
	return &Limit{kind: events.KindConsumerLimit, enter: cfg.LimitEnter, leave: cfg.LimitLeave, usage: LimitUsage,
		gate: Gate{FireAfter: h.FireAfter, ClearAfter: h.ClearAfter}}
}

// Kind is the anomaly kind it raises.
func (d *Limit) Kind() string { return d.kind }

// Observe feeds one fleet round at at: the latest snapshot of every live node.
func (d *Limit) Observe(at time.Time, snaps []Sample) *Transition {
	u := d.usage(snaps)
	fired, cleared := d.gate.Observe(verdict(u.Value, d.enter, d.leave), at)
	if !fired && !cleared {
		return nil
	}
	t := &Transition{Kind: d.kind, Target: events.FleetTarget, Open: fired, Start: d.gate.Start(), At: at,
		Severity: events.SeverityError, Nodes: u.Nodes}
	if u.Value >= 0.98 {
		t.Severity = events.SeverityCritical
	}
	what := strings.ReplaceAll(strings.TrimSuffix(u.Metric, "_over_limit"), "_", " ")
	t.Evidence = events.Evidence{Metric: u.Metric, Value: u.Value, Threshold: d.enter,
		Detail: fmt.Sprintf("%s %.0f of %.0f, reported by %s", what, u.Used, u.Limit, strings.Join(u.Nodes, ","))}
	t.Summary = fmt.Sprintf("%s at %.0f%% of its limit: raise the limit or shorten retention", what, u.Value*100)
	return t
}

// Seed restores a firing state.
func (d *Limit) Seed(start time.Time) { d.gate.Seed(start) }
