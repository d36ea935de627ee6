package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// RTTConfig tunes the RTT degradation detector.
type RTTConfig struct {
	Alpha       float64 `envconfig:"RTT_ALPHA" default:"0.2" desc:"EWMA weight of a new sample"`
	Factor      float64 `envconfig:"RTT_FACTOR" default:"2" desc:"p99 >= Factor x baseline enters"`
	LeaveFactor float64 `envconfig:"RTT_LEAVE_FACTOR" default:"1.5" desc:"p99 < LeaveFactor x baseline leaves"`
	MinDeltaMS  float64 `envconfig:"RTT_MIN_DELTA_MS" default:"20" desc:"and at least this far above"`
	Warmup      int     `envconfig:"RTT_WARMUP" default:"5" desc:"snapshots before the baseline counts"`
	MinPongs    int     `envconfig:"RTT_MIN_PONGS" default:"10" desc:"snapshots from fewer pongs are skipped"`
	OutlierK    float64 `envconfig:"RTT_OUTLIER_K" default:"3" desc:"p99 >= mean + K sd of the peers enters"`
	LeaveK      float64 `envconfig:"RTT_LEAVE_K" default:"2" desc:"p99 < mean + LeaveK sd leaves"`
	MinNodes    int     `envconfig:"RTT_MIN_NODES" default:"3" desc:"peers needed for the fleet test"`
}

// DefaultRTT returns the RTT detector's defaults.
func DefaultRTT() RTTConfig {
	return RTTConfig{Alpha: 0.2, Factor: 2, LeaveFactor: 1.5, MinDeltaMS: 20, Warmup: 5, MinPongs: 10, OutlierK: 3, LeaveK: 2, MinNodes: 3}
}

// baseline is an EWMA of a node's p99.
type baseline struct {
	mean    float64
	samples int
}

// Baseline is a node's learned p99, as saved and restored.
type Baseline struct {
	Mean    float64 `json:"mean"`
	Samples int     `json:"samples"`
}

// RTT fires when a node's p99 round trip rises well above its own EWMA
// baseline, or stands out of the fleet (mean + K standard deviations of
// the other nodes). The baseline learns only from good samples, so a
// lasting degradation does not become the new normal.
//
// A snapshot from fewer than MinPongs pongs is no evidence: the gate keeps
// its state (a firing node stays firing, a bad run is not broken), but the
// node's latest sample no longer counts as bad (Bad), so that a fleet whose
// clients are still away after a shared stall is not held degraded by the
// last sample taken during the stall.
type RTT struct {
	cfg   RTTConfig
	base  map[string]*baseline
	gates gates
	quiet map[string]bool // the latest snapshot had too few pongs
}

// NewRTT returns an RTT degradation detector.
func NewRTT(cfg RTTConfig, h Hysteresis) *RTT {
	return &RTT{cfg: cfg, base: map[string]*baseline{}, gates: newGates(h.FireAfter, h.ClearAfter), quiet: map[string]bool{}}
}

// Kind implements NodeDetector.
func (d *RTT) Kind() string { return events.KindRTTDegraded }

// Baseline returns a node's baseline p99 and whether it is warmed up.
func (d *RTT) Baseline(node string) (float64, bool) {
	b, ok := d.base[node]
	if !ok {
		return 0, false
	}
	return b.mean, b.samples >= d.cfg.Warmup
}

// peerStats returns the mean and standard deviation of the peers' p99
// among those with enough pongs.
func (d *RTT) peerStats(peers []Sample) (mean, sd float64, n int) {
	var sum, sq float64
	for _, p := range peers {
		if p.Health.RTT.Samples < d.cfg.MinPongs {
			continue
		}
		sum += p.Health.RTT.P99
		sq += p.Health.RTT.P99 * p.Health.RTT.P99
		n++
	}
	if n == 0 {
		return 0, 0, 0
	}
	mean = sum / float64(n)
	return mean, math.Sqrt(max(sq/float64(n)-mean*mean, 0)), n
}

// judge returns the verdict of p99, the metric and reference it was
// judged by and the limit it had to reach.
func (d *RTT) judge(node string, p99 float64, peers []Sample) (Verdict, string, float64, float64) {
	bad, good := false, true
	ref, limit, metric := 0.0, 0.0, "rtt_p99_ms"
	if base, ok := d.Baseline(node); ok {
		ref, limit, metric = base, max(base*d.cfg.Factor, base+d.cfg.MinDeltaMS), "rtt_p99_vs_baseline"
		bad = p99 >= base*d.cfg.Factor && p99 >= base+d.cfg.MinDeltaMS
		good = p99 < base*d.cfg.LeaveFactor || p99 < base+d.cfg.MinDeltaMS/2
	}
	if mean, sd, n := d.peerStats(peers); n >= d.cfg.MinNodes {
		if p99 >= mean+d.cfg.OutlierK*sd && p99 >= mean+d.cfg.MinDeltaMS {
			if !bad {
				ref, limit, metric = mean, max(mean+d.cfg.OutlierK*sd, mean+d.cfg.MinDeltaMS), "rtt_p99_vs_fleet"
			}
			bad = true
		}
		good = good && (p99 < mean+d.cfg.LeaveK*sd || p99 < mean+d.cfg.MinDeltaMS/2)
	}
	switch {
	case bad:
		return Bad, metric, ref, limit
	case good:
		return Good, metric, ref, limit
	}
	return Hold, metric, ref, limit
}

// Observe implements NodeDetector.
func (d *RTT) Observe(s Sample, peers []Sample) *Transition {
	h := s.Health
	d.quiet[h.Node] = h.RTT.Samples < d.cfg.MinPongs
	if d.quiet[h.Node] {
		return nil
	}
	v, metric, ref, limit := d.judge(h.Node, h.RTT.P99, peers)
	if v == Good || !d.warm(h.Node) {
		d.learn(h.Node, h.RTT.P99)
	}
	t := d.gates.step(d.Kind(), h.Node, v, s.At)
	if t == nil {
		return nil
	}
	t.Severity = events.SeverityWarning
	if ref > 0 && h.RTT.P99 >= 4*ref {
		t.Severity = events.SeverityError
	}
	t.Evidence = events.Evidence{Metric: metric, Value: h.RTT.P99, Threshold: limit, WindowMS: s.interval().Milliseconds(),
		Detail: fmt.Sprintf("reference %.1f ms from %d pongs", ref, h.RTT.Samples)}
	t.Summary = fmt.Sprintf("%s: RTT p99 %.0f ms against %.0f ms", h.Node, h.RTT.P99, ref)
	return t
}

func (d *RTT) warm(node string) bool { _, ok := d.Baseline(node); return ok }

func (d *RTT) learn(node string, p99 float64) {
	b, ok := d.base[node]
	if !ok {
		d.base[node] = &baseline{mean: p99, samples: 1}
		return
	}
	b.mean += d.cfg.Alpha * (p99 - b.mean)
	b.samples++
}

// Baselines returns every node's baseline, to be saved.
func (d *RTT) Baselines() map[string]Baseline {
	out := make(map[string]Baseline, len(d.base))
	for node, b := range d.base {
		out[node] = Baseline{Mean: b.mean, Samples: b.samples}
	}
	return out
}

// Restore sets the baselines of nodes not learned yet (a restarted
// monitor need not warm up again).
func (d *RTT) Restore(saved map[string]Baseline) {
	for node, b := range saved {
		if _, ok := d.base[node]; !ok && b.Samples > 0 && b.Mean >= 0 {
			d.base[node] = &baseline{mean: b.Mean, samples: b.Samples}
		}
	}
}

// Seed implements NodeDetector.
func (d *RTT) Seed(node string, start time.Time) { d.gates.Seed(node, start) }

// Degraded implements NodeDetector.
func (d *RTT) Degraded(node string) bool { return d.gates.Degraded(node) }

// Bad implements NodeDetector.
func (d *RTT) Bad(node string) bool { return d.gates.Bad(node) && !d.quiet[node] }

// Forget implements NodeDetector.
func (d *RTT) Forget(node string) {
	d.gates.Forget(node)
	delete(d.base, node)
	delete(d.quiet, node)
}
