package detect

import (
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Sample is one health snapshot of a node with the time its event carries
// (the gateway's clock, identical for every monitor replica).
type Sample struct {
	At     time.Time
	Health events.Health
}

// interval is the snapshot's interval, at least one millisecond.
func (s Sample) interval() time.Duration {
	return time.Duration(max(s.Health.IntervalMS, 1)) * time.Millisecond
}

// NodeDetector watches one condition in every node's snapshots.
type NodeDetector interface {
	// Kind is the anomaly kind it raises.
	Kind() string
	// Observe feeds a node's snapshot; peers are the latest snapshots of
	// the other live nodes.
	Observe(s Sample, peers []Sample) *Transition
	// Seed restores a firing state for node (from the durable open set).
	Seed(node string, start time.Time)
	// Forget drops a node.
	Forget(node string)
	// Degraded reports whether node fires or just saw a bad sample; the
	// fleet correlation counts such nodes.
	Degraded(node string) bool
	// Bad reports whether node's latest sample was bad.
	Bad(node string) bool
}

// Hysteresis is the sample counts shared by the node detectors.
type Hysteresis struct {
	FireAfter  int `envconfig:"FIRE_AFTER" default:"3" desc:"bad samples in a row before a node detector fires"`
	ClearAfter int `envconfig:"CLEAR_AFTER" default:"3" desc:"good samples in a row before it clears"`
}

// DefaultHysteresis is 3 bad samples to fire, 3 good to clear.
func DefaultHysteresis() Hysteresis { return Hysteresis{FireAfter: 3, ClearAfter: 3} }

// StaleConfig tunes the stale-connection spike detector.
type StaleConfig struct {
	Share      float64 `envconfig:"STALE_SHARE" default:"0.05" desc:"stale closes / connections to enter"`
	LeaveShare float64 `envconfig:"STALE_LEAVE_SHARE" default:"0.02" desc:"below this it is good"`
	MinCount   int     `envconfig:"STALE_MIN" default:"5" desc:"fewer stale closes are never a spike"`
}

// DefaultStale returns the stale detector's defaults.
func DefaultStale() StaleConfig { return StaleConfig{Share: 0.05, LeaveShare: 0.02, MinCount: 5} }

// Stale fires on a spike of stale closes (connections that missed their
// pong deadline), relative to the node's connections.
type Stale struct {
	cfg StaleConfig
	gates
}

// NewStale returns a stale-spike detector.
func NewStale(cfg StaleConfig, h Hysteresis) *Stale {
	return &Stale{cfg: cfg, gates: newGates(h.FireAfter, h.ClearAfter)}
}

// Kind implements NodeDetector.
func (d *Stale) Kind() string { return events.KindStaleSpike }

// Observe implements NodeDetector.
func (d *Stale) Observe(s Sample, _ []Sample) *Transition {
	h := s.Health
	share := float64(h.Stale) / float64(max(h.Connections+h.Stale, 1))
	v := verdict(share, d.cfg.Share, d.cfg.LeaveShare)
	if v == Bad && h.Stale < d.cfg.MinCount {
		v = Good
	}
	t := d.step(d.Kind(), h.Node, v, s.At)
	if t == nil {
		return nil
	}
	t.Severity = events.SeverityWarning
	t.Evidence = events.Evidence{Metric: "stale_share", Value: share, Threshold: d.cfg.Share, WindowMS: s.interval().Milliseconds(),
		Detail: fmt.Sprintf("%d stale of %d connections", h.Stale, h.Connections+h.Stale)}
	t.Summary = fmt.Sprintf("%s: %.1f%% of connections went stale in %v", h.Node, share*100, s.interval())
	return t
}

// SlowConfig tunes the slow-consumer detector.
type SlowConfig struct {
	Enter int `envconfig:"SLOW_ENTER" default:"5" desc:"slow consumers per interval to enter"`
	Leave int `envconfig:"SLOW_LEAVE" default:"1" desc:"at most this many is good"`
}

// DefaultSlow returns the slow-consumer detector's defaults.
func DefaultSlow() SlowConfig { return SlowConfig{Enter: 5, Leave: 1} }

// Slow fires when a node keeps finding slow consumers (full send queues).
type Slow struct {
	cfg SlowConfig
	gates
}

// NewSlow returns a slow-consumer detector.
func NewSlow(cfg SlowConfig, h Hysteresis) *Slow {
	return &Slow{cfg: cfg, gates: newGates(h.FireAfter, h.ClearAfter)}
}

// Kind implements NodeDetector.
func (d *Slow) Kind() string { return events.KindSlowConsumers }

// Observe implements NodeDetector.
func (d *Slow) Observe(s Sample, _ []Sample) *Transition {
	n := s.Health.SlowConsumers
	t := d.step(d.Kind(), s.Health.Node, verdict(float64(n), float64(d.cfg.Enter), float64(d.cfg.Leave)+0.5), s.At)
	if t == nil {
		return nil
	}
	t.Severity = events.SeverityWarning
	t.Evidence = events.Evidence{Metric: "slow_consumers", Value: float64(n), Threshold: float64(d.cfg.Enter), WindowMS: s.interval().Milliseconds(),
		Detail: fmt.Sprintf("send backlog %d frames", s.Health.SendBacklog)}
	t.Summary = fmt.Sprintf("%s: %d slow consumers in %v", s.Health.Node, n, s.interval())
	return t
}

// ErrorsConfig tunes the error-rate detector.
type ErrorsConfig struct {
	Rate      float64 `envconfig:"ERROR_RATE" default:"5" desc:"errors per second to enter"`
	LeaveRate float64 `envconfig:"ERROR_LEAVE_RATE" default:"1" desc:"below this it is good"`
}

// DefaultErrors returns the error-rate detector's defaults.
func DefaultErrors() ErrorsConfig { return ErrorsConfig{Rate: 5, LeaveRate: 1} }

// Errors fires on a node's error rate (protocol, auth and I/O errors).
type Errors struct {
	cfg ErrorsConfig
	gates
}

// NewErrors returns an error-rate detector.
func NewErrors(cfg ErrorsConfig, h Hysteresis) *Errors {
	return &Errors{cfg: cfg, gates: newGates(h.FireAfter, h.ClearAfter)}
}

// Kind implements NodeDetector.
func (d *Errors) Kind() string { return events.KindErrorRate }

// Observe implements NodeDetector.
func (d *Errors) Observe(s Sample, _ []Sample) *Transition {
	rate := float64(s.Health.Errors) / s.interval().Seconds()
	t := d.step(d.Kind(), s.Health.Node, verdict(rate, d.cfg.Rate, d.cfg.LeaveRate), s.At)
	if t == nil {
		return nil
	}
	t.Severity = events.SeverityError
	t.Evidence = events.Evidence{Metric: "errors_per_second", Value: rate, Threshold: d.cfg.Rate, WindowMS: s.interval().Milliseconds()}
	t.Summary = fmt.Sprintf("%s: %.1f errors/s", s.Health.Node, rate)
	return t
}

// SaturationConfig tunes the saturation detector. The load of a node is
// the highest of connections/capacity, backlog/MaxBacklog and
// heap/MaxHeapMB; a limit of 0 leaves its part out.
type SaturationConfig struct {
	Enter      float64 `envconfig:"SATURATION_ENTER" default:"0.9" desc:"connections/capacity that enters saturation"`
	Leave      float64 `envconfig:"SATURATION_LEAVE" default:"0.8" desc:"connections/capacity below which saturation clears"`
	MaxBacklog int     `envconfig:"SATURATION_MAX_BACKLOG" default:"100000" desc:"queued frames across connections"`
	MaxHeapMB  int     `envconfig:"SATURATION_MAX_HEAP_MB" default:"1024" desc:"heap that counts as saturation"`
}

// DefaultSaturation returns the saturation detector's defaults.
func DefaultSaturation() SaturationConfig {
	return SaturationConfig{Enter: 0.9, Leave: 0.8, MaxBacklog: 100000, MaxHeapMB: 1024}
}

// Saturation fires when a node runs close to one of its limits.
type Saturation struct {
	cfg SaturationConfig
	gates
}

// NewSaturation returns a saturation detector.
func NewSaturation(cfg SaturationConfig, h Hysteresis) *Saturation {
	return &Saturation{cfg: cfg, gates: newGates(h.FireAfter, h.ClearAfter)}
}

// Kind implements NodeDetector.
func (d *Saturation) Kind() string { return events.KindSaturation }

// Load returns the node's load, 0..1+, and the metric that gave it.
func (d *Saturation) Load(h events.Health) (float64, string) {
	load, metric := 0.0, "connections_over_capacity"
	if h.Capacity > 0 {
		load = float64(h.Connections) / float64(h.Capacity)
	}
	if d.cfg.MaxBacklog > 0 {
		if v := float64(h.SendBacklog) / float64(d.cfg.MaxBacklog); v > load {
			load, metric = v, "send_backlog_over_limit"
		}
	}
	if d.cfg.MaxHeapMB > 0 {
		if v := float64(h.HeapBytes) / float64(d.cfg.MaxHeapMB<<20); v > load {
			load, metric = v, "heap_over_limit"
		}
	}
	return load, metric
}

// Observe implements NodeDetector.
func (d *Saturation) Observe(s Sample, _ []Sample) *Transition {
	h := s.Health
	load, metric := d.Load(h)
	t := d.step(d.Kind(), h.Node, verdict(load, d.cfg.Enter, d.cfg.Leave), s.At)
	if t == nil {
		return nil
	}
	t.Severity = events.SeverityWarning
	if load >= 1 {
		t.Severity = events.SeverityError
	}
	t.Evidence = events.Evidence{Metric: metric, Value: load, Threshold: d.cfg.Enter, WindowMS: s.interval().Milliseconds(),
		Detail: fmt.Sprintf("connections %d/%d, backlog %d, heap %d MiB", h.Connections, h.Capacity, h.SendBacklog, h.HeapBytes>>20)}
	t.Summary = fmt.Sprintf("%s: saturated at %.0f%% (%s)", h.Node, load*100, metric)
	return t
}
