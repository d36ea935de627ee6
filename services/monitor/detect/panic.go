package detect

import "time"

// PanicConfig tunes the panic threshold: when most of the fleet falls
// silent at once the likely cause is NATS, the network or the monitor, so
// one fleet anomaly is raised instead of one per node.
type PanicConfig struct {
	Share      float64 `envconfig:"PANIC_SHARE" default:"0.5" desc:"more than this share of the fleet silent"`
	MinNodes   int     `envconfig:"PANIC_MIN_NODES" default:"3" desc:"and at least this many nodes"`
	ClearAfter int     `envconfig:"PANIC_CLEAR_AFTER" default:"3" desc:"good checks in a row to clear"`
}

// DefaultPanic returns the panic threshold defaults.
func DefaultPanic() PanicConfig { return PanicConfig{Share: 0.5, MinNodes: 3, ClearAfter: 3} }

// Panic decides whether the monitor is in panic mode. It fires on the
// first bad check (it must hold back per-node verdicts at once) and clears
// after ClearAfter good checks.
type Panic struct {
	cfg  PanicConfig
	gate Gate
}

// NewPanic returns a panic threshold.
func NewPanic(cfg PanicConfig) *Panic {
	return &Panic{cfg: cfg, gate: Gate{FireAfter: 1, ClearAfter: cfg.ClearAfter}}
}

// Bad reports whether silent of fleet nodes, or a lost connection, is panic.
func (p *Panic) Bad(silent, fleet int, connected bool) bool {
	return !connected || (silent >= p.cfg.MinNodes && float64(silent) > p.cfg.Share*float64(fleet))
}

// Observe feeds one check: silent nodes newly silent (not yet reported
// down), fleet the nodes watched, connected the monitor's own NATS state.
// start is the impact start to record if it fires.
func (p *Panic) Observe(start time.Time, silent, fleet int, connected bool) (fired, cleared bool) {
	v := Good
	switch {
	case p.Bad(silent, fleet, connected):
		v = Bad
	case silent >= p.cfg.MinNodes && float64(silent) > p.cfg.Share/2*float64(fleet):
		v = Hold
	}
	return p.gate.Observe(v, start)
}

// Firing reports whether the monitor is in panic mode.
func (p *Panic) Firing() bool { return p.gate.Firing() }

// Start is the impact start of the current panic.
func (p *Panic) Start() time.Time { return p.gate.Start() }

// Seed restores a panic from the durable open set.
func (p *Panic) Seed(start time.Time) { p.gate.Seed(start) }
