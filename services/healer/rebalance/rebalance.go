// Package rebalance moves connections from the hottest gateway nodes to
// the coolest in paced waves until max/mean is within a bound.
//
// Hysteresis: the roles of a run are fixed at its first wave (nodes above
// the mean send, nodes below receive, never both), and no move takes a
// sender below the mean or a receiver above it, so the same connections
// never travel back and forth, also with two nodes. A run starts only
// above the bound and aims at the mean, which leaves the whole margin
// between the mean and the bound before the next run can start.
//
// Settling: the loads are read from heartbeats, which trail the moves,
// and moved clients take a moment to reconnect. After a wave's pause the
// next wave waits until the loads show the wave landed (each sender at or
// below, each receiver at or above the count the wave planned), for at
// most SettleWaves further pauses; planning from counts that still show
// the last wave's clients at home would move them twice and overshoot.
// Clients that did not land (a hinted dial that failed falls back to a
// URL the client knows) are moved by the next wave once the wait ends.
package rebalance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// SettleWaves bounds the wait for a wave to show in the loads, in wave
// pauses.
const SettleWaves = 5

// Errors of a run.
var (
	ErrStuck       = errors.New("rebalance: no move can help")
	ErrNotBalanced = errors.New("rebalance: still above the bound")
)

// Load is one accepting node's connection count.
type Load struct {
	ID    string
	Conns int
}

// Move asks From to send Count connections to To.
type Move struct {
	From, To string
	Count    int
}

// Ratio returns max/mean over loads, and the mean; 1 with fewer than two
// nodes or no connection.
func Ratio(loads []Load) (ratio, mean float64) {
	total, most := 0, 0
	for _, l := range loads {
		total += l.Conns
		most = max(most, l.Conns)
	}
	if len(loads) < 2 || total == 0 {
		return 1, float64(total) / math.Max(1, float64(len(loads)))
	}
	mean = float64(total) / float64(len(loads))
	return float64(most) / mean, mean
}

// Roles are the senders and receivers of one run.
type Roles struct {
	Senders   map[string]bool
	Receivers map[string]bool
}

// Assign fixes the roles from the loads at the start of a run.
func Assign(loads []Load) Roles {
	_, mean := Ratio(loads)
	r := Roles{Senders: map[string]bool{}, Receivers: map[string]bool{}}
	for _, l := range loads {
		switch {
		case float64(l.Conns) > mean:
			r.Senders[l.ID] = true
		case float64(l.Conns) < mean:
			r.Receivers[l.ID] = true
		}
	}
	return r
}

// Plan pairs the hottest senders with the coolest receivers for one wave.
// A sender gives at most waveFraction of its connections per wave; no
// move crosses the mean on either side.
func Plan(loads []Load, roles Roles, waveFraction float64) []Move {
	_, mean := Ratio(loads)
	var hot, cool []Load
	for _, l := range loads {
		if roles.Senders[l.ID] && float64(l.Conns) > math.Ceil(mean) {
			hot = append(hot, l)
		}
		if roles.Receivers[l.ID] && float64(l.Conns) < math.Floor(mean) {
			cool = append(cool, l)
		}
	}
	sort.Slice(hot, func(i, j int) bool {
		return hot[i].Conns > hot[j].Conns || hot[i].Conns == hot[j].Conns && hot[i].ID < hot[j].ID
	})
	sort.Slice(cool, func(i, j int) bool {
		return cool[i].Conns < cool[j].Conns || cool[i].Conns == cool[j].Conns && cool[i].ID < cool[j].ID
	})
	var moves []Move
	i, j := 0, 0
	budget := make([]int, len(hot))
	for k, h := range hot {
		budget[k] = max(1, int(math.Ceil(float64(h.Conns)*waveFraction)))
	}
	for i < len(hot) && j < len(cool) {
		excess := hot[i].Conns - int(math.Ceil(mean))
		deficit := int(math.Floor(mean)) - cool[j].Conns
		n := min(excess, deficit, budget[i])
		if n > 0 {
			moves = append(moves, Move{From: hot[i].ID, To: cool[j].ID, Count: n})
			hot[i].Conns -= n
			cool[j].Conns += n
			budget[i] -= n
		}
		if hot[i].Conns <= int(math.Ceil(mean)) || budget[i] == 0 {
			i++
		}
		if cool[j].Conns >= int(math.Floor(mean)) {
			j++
		}
	}
	return moves
}

// Mover carries out one move; id makes it idempotent.
type Mover interface {
	Move(ctx context.Context, id, from, to string, count int, over time.Duration) (int, error)
}

// Params tune a run.
type Params struct {
	ID           string // prefix of the command ids
	Bound        float64
	WaveFraction float64
	WavePause    time.Duration
	MaxWaves     int
}

// Result says what a run did.
type Result struct {
	Waves int     `json:"waves"`
	Moved int     `json:"moved"`
	Ratio float64 `json:"ratio"`
	Moves []Move  `json:"moves,omitempty"`
}

// Run moves connections in waves until max/mean is within the bound.
// loads reads the current fleet (accepting nodes only) before each wave.
func Run(ctx context.Context, p Params, loads func() []Load, m Mover) (Result, error) {
	var res Result
	var roles Roles
	for wave := 1; ; wave++ {
		cur := loads()
		res.Ratio, _ = Ratio(cur)
		if res.Ratio <= p.Bound {
			return res, nil
		}
		if wave > p.MaxWaves {
			return res, fmt.Errorf("%w: %.2f after %d waves", ErrNotBalanced, res.Ratio, p.MaxWaves)
		}
		if wave == 1 {
			roles = Assign(cur)
		}
		moves := Plan(cur, roles, p.WaveFraction)
		if len(moves) == 0 {
			return res, fmt.Errorf("%w: ratio %.2f", ErrStuck, res.Ratio)
		}
		res.Waves = wave
		want := map[string]int{}
		for _, l := range cur {
			want[l.ID] = l.Conns
		}
		for k, mv := range moves {
			id := fmt.Sprintf("%s.w%d.%d", p.ID, wave, k)
			n, err := m.Move(ctx, id, mv.From, mv.To, mv.Count, p.WavePause/2)
			if err != nil {
				return res, fmt.Errorf("rebalance: wave %d %s->%s: %w", wave, mv.From, mv.To, err)
			}
			res.Moved += n
			res.Moves = append(res.Moves, mv)
			want[mv.From] -= n
			want[mv.To] += n
		}
		if err := settle(ctx, p.WavePause, loads, roles, want); err != nil {
			return res, err
		}
	}
}

// settle waits the wave pause, then until loads show the wave landed (see
// the package doc), reading them every quarter pause at most 4*SettleWaves
// times.
func settle(ctx context.Context, pause time.Duration, loads func() []Load, roles Roles, want map[string]int) error {
	wait := pause
	for polls := 0; ; polls++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if polls >= 4*SettleWaves || landed(loads(), roles, want) {
			return nil
		}
		wait = pause / 4
	}
}

// landed: every sender at or below, every receiver at or above its
// planned count (a node gone from the loads is planned afresh).
func landed(cur []Load, roles Roles, want map[string]int) bool {
	for _, l := range cur {
		w, ok := want[l.ID]
		switch {
		case !ok:
		case roles.Senders[l.ID] && l.Conns > w:
			return false
		case roles.Receivers[l.ID] && l.Conns < w:
			return false
		}
	}
	return true
}
