// Package safety holds the healer's brakes: exponential backoff per
// (target, action), a global token bucket, the blast-radius cap, the panic
// threshold, flap detection and the fleet hold on quarantines. Each is a small, pure rule over inputs the
// caller provides, so that each can be tested alone.
package safety

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/fleet"
)

// Backoff spaces repeated actions on one (target, action): the n-th
// consecutive attempt waits Base*2^(n-1), at most Max, after the previous
// one. The count resets only after Healthy of quiet (no attempt).
type Backoff struct {
	Base    time.Duration `envconfig:"BACKOFF_BASE" default:"5s" desc:"first delay of the per (target, action) backoff"`
	Max     time.Duration `envconfig:"BACKOFF_MAX" default:"5m" desc:"longest per (target, action) backoff"`
	Healthy time.Duration `envconfig:"HEALTHY_PERIOD" default:"2m" desc:"a target must stay healthy this long before its backoff resets"`
}

// Validate fails on a duration that is not positive, naming its variable
// under prefix (the service's, e.g. WSHEAL_HEALER).
func (b Backoff) Validate(prefix string) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"BACKOFF_BASE", b.Base}, {"BACKOFF_MAX", b.Max}, {"HEALTHY_PERIOD", b.Healthy}} {
		if d.v <= 0 {
			return fmt.Errorf("%s_%s=%v: want a positive duration", prefix, d.name, d.v)
		}
	}
	return nil
}

// Attempts is the durable record of one (target, action).
type Attempts struct {
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// Wait returns how long to wait before the next attempt; 0 means now.
func (b Backoff) Wait(a Attempts, now time.Time) time.Duration {
	if a.Count == 0 || now.Sub(a.Last) >= b.Healthy {
		return 0
	}
	d := b.Base * time.Duration(math.Pow(2, float64(min(a.Count-1, 30))))
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	return max(0, a.Last.Add(d).Sub(now))
}

// Record returns a after one more attempt at now.
func (b Backoff) Record(a Attempts, now time.Time) Attempts {
	if now.Sub(a.Last) >= b.Healthy {
		a.Count = 0
	}
	return Attempts{Count: a.Count + 1, Last: now}
}

// Budget is the global token bucket for all actions: Rate tokens a
// second up to Burst. Its level is shared state (Tokens) that the caller
// keeps, so that every replica spends from the same bucket.
type Budget struct {
	Rate  float64 `envconfig:"BUDGET_RATE" default:"0.5" desc:"global action budget: actions per second"`
	Burst int     `envconfig:"BUDGET_BURST" default:"10" desc:"global action budget: burst"`
}

// Validate fails on a rate or a burst that lets no action through, naming
// its variable under prefix.
func (b Budget) Validate(prefix string) error {
	switch {
	case b.Rate <= 0:
		return fmt.Errorf("%s_BUDGET_RATE=%v: want actions per second, more than 0", prefix, b.Rate)
	case b.Burst < 1:
		return fmt.Errorf("%s_BUDGET_BURST=%v: want at least 1", prefix, b.Burst)
	}
	return nil
}

// Tokens is the bucket's level at a time; the zero value is a full bucket.
type Tokens struct {
	Level float64   `json:"level"`
	At    time.Time `json:"at"`
}

// Refill returns the level at now.
func (b Budget) Refill(t Tokens, now time.Time) Tokens {
	if t.At.IsZero() {
		return Tokens{Level: float64(b.Burst), At: now}
	}
	if now.Before(t.At) {
		return t
	}
	return Tokens{Level: math.Min(float64(b.Burst), t.Level+now.Sub(t.At).Seconds()*b.Rate), At: now}
}

// Take spends a token at now: the new level, whether one was there, and
// when none was, how long until one is.
func (b Budget) Take(t Tokens, now time.Time) (Tokens, bool, time.Duration) {
	t = b.Refill(t, now)
	if t.Level >= 1 {
		t.Level--
		return t, true, 0
	}
	if b.Rate <= 0 {
		return t, false, time.Minute
	}
	return t, false, time.Duration((1 - t.Level) / b.Rate * float64(time.Second))
}

// Blast checks that taking target out (drain, quarantine, restart) keeps
// at most maxShare of the fleet draining or out, counted as it would be
// after the action, and never takes out the last accepting node. It
// returns "" when allowed, else why not.
func Blast(nodes []fleet.Node, target string, maxShare float64) string {
	if len(nodes) == 0 {
		return "the fleet is unknown"
	}
	out, accepting, known := 0, 0, false
	for _, n := range nodes {
		if n.ID == target {
			known = true
			out++
			continue
		}
		if n.Accepting() {
			accepting++
		} else {
			out++
		}
	}
	total := len(nodes)
	if !known {
		total++
		out++
	}
	if accepting == 0 {
		return "it would leave no healthy node accepting"
	}
	if float64(out)/float64(total) > maxShare+1e-9 {
		return "it would put " + itoa(out) + " of " + itoa(total) + " nodes out, above the blast-radius cap"
	}
	return ""
}

// Panic reports whether more than threshold of the known fleet is silent:
// the cause is likely elsewhere (NATS, network, the monitor) and acting
// node by node would make it worse.
func Panic(nodes []fleet.Node, threshold float64) bool {
	s := fleet.Count(nodes)
	return s.Nodes > 0 && s.UnhealthyShare() > threshold+1e-9
}

// Flapping reports whether a node healed at least n times within window
// before now: it keeps failing after healing.
func Flapping(heals []time.Time, now time.Time, window time.Duration, n int) bool {
	return len(Recent(heals, now, window)) >= n
}

// FleetHolds reports whether a quarantine of node must wait: the fleet is
// degraded as a whole (deg is the last fleet_degraded event, nil when
// none) and the node is among the nodes it names, so it does not stand out
// from healthy peers. A fleet_degraded that names no node holds every node.
func FleetHolds(deg *events.Anomaly, node string) bool {
	if deg == nil || deg.State != events.AnomalyOpen {
		return false
	}
	return len(deg.Nodes) == 0 || slices.Contains(deg.Nodes, node)
}

// Recent keeps the heals within window before now.
func Recent(heals []time.Time, now time.Time, window time.Duration) []time.Time {
	out := heals[:0:0]
	for _, h := range heals {
		if now.Sub(h) <= window {
			out = append(out, h)
		}
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
