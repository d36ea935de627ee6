package review

import (
	"slices"
	"time"
)

// MinUsual is how many past incidents of a kind it takes to know the
// fleet's usual detection delay; with fewer, a detection is slow past
// SlowDetection.
const MinUsual = 3

// Past is the detection delay (MTTD) of a past incident.
type Past struct {
	ID    string
	Kinds []string
	MTTD  time.Duration
}

// Usual is the fleet's usual detection delay for kinds: the median MTTD of
// the past incidents, other than id, that share a kind with them, and how
// many there were.
func Usual(past []Past, id string, kinds []string) (time.Duration, int) {
	var ds []time.Duration
	for _, p := range past {
		if p.ID == id || p.MTTD < 0 || !slices.ContainsFunc(p.Kinds, func(k string) bool { return slices.Contains(kinds, k) }) {
			continue
		}
		ds = append(ds, p.MTTD)
	}
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	m := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		m = (ds[len(ds)/2-1] + m) / 2
	}
	return m, len(ds)
}

// slowAgainstUsual says whether mttd is slow against the usual of n past
// incidents: twice the usual and a second more at least.
func slowAgainstUsual(mttd, usual time.Duration) bool {
	return mttd > 2*usual && mttd-usual >= time.Second
}
