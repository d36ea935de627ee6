package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records durations in microseconds in log-linear buckets (as
// HDR histograms do): 64 sub-buckets per power of two, so a recorded value
// is known within 1/64 (1.6%), in fixed memory and without locks.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxBits = 40 // 2^40 µs is 12 days
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	shift := bits.Len64(us) - 1 - histSubBits
	if shift >= histMaxBits-histSubBits {
		return histBuckets - 1
	}
	return (shift+1)*histSub + int(us>>uint(shift)) - histSub
}

// histValue is the middle of the bucket's range.
func histValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := uint(i/histSub - 1)
	sub := uint64(i%histSub + histSub)
	return sub<<shift + (uint64(1)<<shift)/2
}

// Record adds one duration (negative counts as zero).
func (h *histogram) Record(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[histIndex(uint64(us))].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Count is the number of recorded values.
func (h *histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the q-quantile (0 < q <= 1); 0 without values.
func (h *histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := min(int64(histValue(i)), h.max.Load())
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}

// Max is the largest recorded value, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }
