// Package safety holds the healer's brakes: exponential backoff per
// (target, action), a global token bucket, the blast-radius cap, the panic
// threshold and flap detection. Each is a small, pure rule over inputs the
// caller provides, so that each can be tested alone.
package safety

import (
	"math"
	"sync"
	"time"

	"github.com/wsheal/wsheal/services/healer/fleet"
)

// Backoff spaces repeated actions on one (target, action): the n-th
// consecutive attempt waits Base*2^(n-1), at most Max, after the previous
// one. The count resets only after Healthy of quiet (no attempt).
type Backoff struct {
	Base    time.Duration
	Max     time.Duration
	Healthy time.Duration
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

// Bucket is the global action budget: Rate tokens a second up to Burst.
type Bucket struct {
	rate  float64
	burst float64

	mu     sync.Mutex
	tokens float64
	at     time.Time
}

// NewBucket returns a full bucket.
func NewBucket(rate float64, burst int) *Bucket {
	return &Bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *Bucket) refill(now time.Time) {
	if !b.at.IsZero() {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.at).Seconds()*b.rate)
	}
	b.at = now
}

// Take spends a token; when none is left it returns false and how long
// until one is.
func (b *Bucket) Take(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if b.rate <= 0 {
		return false, time.Minute
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// Tokens is what is left now.
func (b *Bucket) Tokens(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.tokens
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
