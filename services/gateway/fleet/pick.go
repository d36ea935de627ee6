package fleet

import (
	"math/rand/v2"
	"time"
)

// Pick chooses the node for one new client (the answer of /v1/connect):
// the power of two random choices weighted by free capacity. Two distinct
// candidates are drawn, each with a probability proportional to its free
// capacity, and the one with the larger share of free capacity wins (a
// tie is broken at random).
//
// Free capacity counts the clients this registry already sent to a node
// since that node's registration was read: registrations are refreshed
// once per heartbeat, and without that count every client asking in
// between (the whole crowd of a dead node) would go to the same node.
// With it, a dead node's clients land evenly on equal survivors, and a
// cooler survivor takes more until it has caught up.
func (r *Registry) Pick(exclude string, now time.Time) (Registration, error) {
	cands := r.Candidates(exclude, now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = map[string]int{}
	}
	free := make([]int, len(cands))
	total := 0
	for i, reg := range cands {
		free[i] = max(reg.Capacity-reg.Connections-r.sent[reg.Node], 1)
		total += free[i]
	}
	if total == 0 {
		return Registration{}, ErrNoNode
	}
	a := weighted(free, total, -1)
	choice := a
	if len(cands) > 1 {
		b := weighted(free, total-free[a], a)
		choice = better(cands, free, a, b)
	}
	r.sent[cands[choice].Node]++
	return cands[choice], nil
}

// weighted draws an index with probability free[i]/total, skipping skip
// (whose weight the caller removed from total).
func weighted(free []int, total, skip int) int {
	n := rand.IntN(total)
	for i, f := range free {
		if i == skip {
			continue
		}
		if n < f {
			return i
		}
		n -= f
	}
	for i := len(free) - 1; i >= 0; i-- {
		if i != skip {
			return i
		}
	}
	return 0
}

// better is whichever of a and b has the larger share of its capacity
// free, at random on a tie.
func better(cands []Registration, free []int, a, b int) int {
	fa, fb := share(free[a], cands[a].Capacity), share(free[b], cands[b].Capacity)
	switch {
	case fa > fb:
		return a
	case fb > fa:
		return b
	case rand.IntN(2) == 0:
		return a
	default:
		return b
	}
}

func share(free, capacity int) float64 {
	if capacity <= 0 {
		return 0
	}
	return float64(free) / float64(capacity)
}
