package detect

import (
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// SaturationConfig tunes the saturation detector. The load of a node is
// the highest of connections/capacity, backlog/MaxBacklog and
// heap/MaxHeapMB; a limit of 0 leaves its part out.
type SaturationConfig struct {
	Enter      float64 `envconfig:"SATURATION_ENTER" default:"0.9"`
	Leave      float64 `envconfig:"SATURATION_LEAVE" default:"0.8"`
	MaxBacklog int     `envconfig:"SATURATION_MAX_BACKLOG" default:"100000"` // queued frames across connections
	MaxHeapMB  int     `envconfig:"SATURATION_MAX_HEAP_MB" default:"1024"`
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

// Seed implements NodeDetector.
func (d *Saturation) Seed(node string, start time.Time) { d.seed(node, start) }

// Forget implements NodeDetector.
func (d *Saturation) Forget(node string) { d.forget(node) }
