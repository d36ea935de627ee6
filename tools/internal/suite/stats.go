package suite

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrNoRSS: /proc/<pid>/status has no VmRSS line (the process is gone or
// is not a Linux process).
var ErrNoRSS = errors.New("suite: no VmRSS")

// RSS reads the resident set size of process pid from
// /proc/<pid>/status, in bytes.
func RSS(pid int) (int64, error) { return procStatus(pid, "VmRSS:") }

// PeakRSS is the peak resident set (VmHWM) of process pid, in bytes.
func PeakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM:") }

func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("suite: %s of %d: %w", field, pid, err)
	}
	return parseStatusKB(b, field)
}

// parseRSS reads the VmRSS line ("VmRSS:\t  12345 kB") of a status file.
func parseRSS(status []byte) (int64, error) { return parseStatusKB(status, "VmRSS:") }

// parseStatusKB reads a "<field>\t  12345 kB" line of a status file, in
// bytes.
func parseStatusKB(status []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%w: malformed line %q", ErrNoRSS, sc.Text())
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrNoRSS, err)
		}
		return kb << 10, nil
	}
	return 0, ErrNoRSS
}

// Median of xs (NaN for none); xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio is a/b, NaN when either is missing or b is zero.
func Ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// histBuckets covers 1 µs to beyond 100 s with 16 buckets per power of two
// (about 6% resolution).
const histBuckets = 512

// Hist is a latency histogram in microseconds, safe for concurrent
// recording.
type Hist struct {
	b [histBuckets]atomic.Uint64
}

func bucketOf(us uint64) int {
	if us < 16 {
		return int(us)
	}
	e := bits.Len64(us) - 5
	return min(e*16+int(us>>e), histBuckets-1)
}

// bucketValue is the lower bound of bucket i, in microseconds.
func bucketValue(i int) uint64 {
	if i < 16 {
		return uint64(i)
	}
	e := i/16 - 1
	return uint64(i%16+16) << e
}

// Record adds one latency.
func (h *Hist) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.b[bucketOf(uint64(us))].Add(1)
}

// Counts returns a copy of the buckets (for a worker's report).
func (h *Hist) Counts() []uint64 {
	out := make([]uint64, histBuckets)
	for i := range h.b {
		out[i] = h.b[i].Load()
	}
	return out
}

// Reset empties the histogram.
func (h *Hist) Reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
}

// Quantile of merged bucket counts, in milliseconds (NaN if empty).
func Quantile(counts []uint64, q float64) float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank && c > 0 {
			return float64(bucketValue(i)) / 1000
		}
	}
	return float64(bucketValue(len(counts)-1)) / 1000
}
