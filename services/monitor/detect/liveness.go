package detect

import (
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// LivenessConfig tunes heartbeat liveness. Thresholds are in heartbeat
// intervals of the node (its heartbeat says how often it beats).
type LivenessConfig struct {
	SuspectMisses float64 `envconfig:"SUSPECT_MISSES" default:"2" desc:"missed beats before suspect"`
	DownMisses    float64 `envconfig:"DOWN_MISSES" default:"3" desc:"missed beats before down (or hung)"`
	RecoverBeats  int     `envconfig:"RECOVER_BEATS" default:"3" desc:"on-time beats to be alive again"`
}

// DefaultLiveness returns the liveness defaults.
func DefaultLiveness() LivenessConfig {
	return LivenessConfig{SuspectMisses: 2, DownMisses: 3, RecoverBeats: 3}
}

// Pulse is a node's liveness.
type Pulse int8

// Pulses.
const (
	Alive   Pulse = iota
	Suspect       // late, not yet down
	Silent        // past the down threshold: down or hung, to be told apart by a probe
	Stopped       // announced a clean stop
)

// String names a pulse.
func (p Pulse) String() string {
	return [...]string{"alive", "suspect", "silent", "stopped"}[p]
}

// Beat is one heartbeat as the monitor received it.
type Beat struct {
	Node      string
	At        time.Time // the event's time (the gateway's clock): same for every replica
	Heard     time.Time // when this monitor received it (gaps are measured on this clock)
	Interval  time.Duration
	StartedAt time.Time // the process start; a new one after a stop is a restart
}

// Lapse reports a node that became suspect or silent.
type Lapse struct {
	Node      string
	Pulse     Pulse
	Last      time.Time // event time of the last beat; zero if none was ever heard
	Start     time.Time // impact start: when the first missing beat was due
	Gap       time.Duration
	Threshold time.Duration
}

type pulse struct {
	state   Pulse
	last    Beat
	floor   time.Time // gaps are measured from max(last.Heard, floor)
	good    int
	stopped time.Time // StartedAt of the process that announced its stop
}

// Liveness tracks every node's heartbeats: suspect after SuspectMisses
// missed beats, silent after DownMisses, alive again after RecoverBeats
// consecutive on-time beats.
type Liveness struct {
	cfg   LivenessConfig
	nodes map[string]*pulse
}

// NewLiveness returns a liveness tracker.
func NewLiveness(cfg LivenessConfig) *Liveness {
	return &Liveness{cfg: cfg, nodes: map[string]*pulse{}}
}

// Config returns the tracker's thresholds.
func (l *Liveness) Config() LivenessConfig { return l.cfg }

func (l *Liveness) get(node string) *pulse {
	p, ok := l.nodes[node]
	if !ok {
		p = &pulse{}
		l.nodes[node] = p
	}
	return p
}

// Beat records a heartbeat. It reports whether the node, suspect or
// silent before, is alive again with this beat.
func (l *Liveness) Beat(b Beat) (recovered bool) {
	if b.Interval <= 0 {
		b.Interval = time.Second
	}
	p := l.get(b.Node)
	if p.state == Stopped {
		if b.StartedAt.Equal(p.stopped) {
			return false // a late beat of the process that said it stops
		}
		p.state, p.good = Alive, 0
	}
	late := p.last.Heard.IsZero() || b.Heard.Sub(p.last.Heard) > l.threshold(b.Interval, l.cfg.SuspectMisses)
	// A beat from a new process (the healer's restart) replaces the one
	// that went silent: alive at once, so that if the new process dies
	// too, that is a new lapse rather than one still waiting for its
	// recovery beats.
	replaced := !p.last.StartedAt.IsZero() && !b.StartedAt.IsZero() && !b.StartedAt.Equal(p.last.StartedAt)
	p.last = b
	if p.state == Alive {
		return false
	}
	if replaced {
		p.state, p.good = Alive, 0
		return true
	}
	if late {
		p.good = 1
	} else {
		p.good++
	}
	if p.good >= max(l.cfg.RecoverBeats, 1) {
		p.state, p.good = Alive, 0
		return true
	}
	return false
}

func (l *Liveness) threshold(interval time.Duration, misses float64) time.Duration {
	return time.Duration(float64(interval) * misses)
}

// Check measures every node's silence at now and returns those that
// became suspect or silent.
func (l *Liveness) Check(now time.Time) []Lapse {
	var out []Lapse
	for node, p := range l.nodes {
		if p.state == Stopped {
			continue
		}
		interval := p.last.Interval
		if interval <= 0 {
			interval = time.Second
		}
		ref := p.last.Heard
		if p.floor.After(ref) {
			ref = p.floor
		}
		gap := now.Sub(ref)
		suspect, down := l.threshold(interval, l.cfg.SuspectMisses), l.threshold(interval, l.cfg.DownMisses)
		if gap >= suspect {
			p.good = 0
		}
		next := p.state
		switch {
		case gap >= down && p.state != Silent:
			next = Silent
		case gap >= suspect && p.state == Alive:
			next = Suspect
		}
		if next == p.state {
			continue
		}
		p.state = next
		out = append(out, l.lapse(node, p, now))
	}
	return out
}

// Lapse describes a suspect or silent node's silence at now.
func (l *Liveness) Lapse(node string, now time.Time) (Lapse, bool) {
	p, ok := l.nodes[node]
	if !ok || (p.state != Suspect && p.state != Silent) {
		return Lapse{}, false
	}
	return l.lapse(node, p, now), true
}

func (l *Liveness) lapse(node string, p *pulse, now time.Time) Lapse {
	interval := p.last.Interval
	if interval <= 0 {
		interval = time.Second
	}
	ref := p.last.Heard
	if p.floor.After(ref) {
		ref = p.floor
	}
	lp := Lapse{Node: node, Pulse: p.state, Last: p.last.At, Gap: now.Sub(ref), Start: p.floor,
		Threshold: l.threshold(interval, l.cfg.SuspectMisses)}
	if p.state == Silent {
		lp.Threshold = l.threshold(interval, l.cfg.DownMisses)
	}
	if !p.last.At.IsZero() {
		lp.Start = p.last.At.Add(interval)
	}
	return lp
}

// Stop records a clean stop announced by the node: it is not missed.
func (l *Liveness) Stop(node string) {
	p := l.get(node)
	p.state, p.good, p.stopped = Stopped, 0, p.last.StartedAt
}

// Watch adds a node known without a beat (from the registry or from an
// open anomaly): its silence is measured from since.
func (l *Liveness) Watch(node string, interval time.Duration, since time.Time) {
	p := l.get(node)
	if p.last.Heard.IsZero() && p.floor.IsZero() {
		p.floor, p.last.Interval = since, interval
	}
}

// Seed marks a node silent, as restored from an open down or hung anomaly.
func (l *Liveness) Seed(node string, since time.Time) {
	l.Watch(node, time.Second, since)
	p := l.get(node)
	p.state, p.good = Silent, 0
}

// Blind moves every node's reference to now: the monitor could not hear
// anything before (its own NATS connection was down).
func (l *Liveness) Blind(now time.Time) {
	for _, p := range l.nodes {
		p.floor = now
	}
}

// Pulse returns a node's liveness and whether the node is known.
func (l *Liveness) Pulse(node string) (Pulse, bool) {
	p, ok := l.nodes[node]
	if !ok {
		return Alive, false
	}
	return p.state, true
}

// Last returns the last beat heard from a node.
func (l *Liveness) Last(node string) Beat { return l.get(node).last }

// Forget drops a node.
func (l *Liveness) Forget(node string) { delete(l.nodes, node) }

// Probe is what a check of a silent node found.
type Probe struct {
	URL     string
	Accepts bool   // its listener completed a TCP handshake
	HTTPOK  bool   // GET /healthz answered 2xx
	Detail  string // the error or status seen
	Elapsed time.Duration
}

// Classify tells a hung node from a down one: a stopped (SIGSTOP) or
// wedged process still completes TCP handshakes from the kernel backlog,
// a crashed one refuses them.
func Classify(p Probe) string {
	if p.Accepts {
		return events.KindNodeHung
	}
	return events.KindNodeDown
}
