package events

import (
	"testing"
	"time"
)

func TestConnEnds(t *testing.T) {
	var e ConnEnds
	for range 90 {
		e.Add(500, 3, 10) // 0.5 s: the first bucket
	}
	for range 10 {
		e.Add(30*60*1000, 1, 1) // 30 min: (900, 3600]
	}
	if e.Count != 100 || e.MsgsIn != 280 || e.MsgsOut != 910 || e.Buckets[0] != 90 || e.Buckets[6] != 10 {
		t.Fatalf("%+v", e)
	}
	if q := e.Quantile(0.5); q <= 0 || q > 1 {
		t.Fatalf("p50 %v, want within the first bucket", q)
	}
	if q := e.Quantile(0.95); q <= 900 || q > 3600 {
		t.Fatalf("p95 %v, want in (900, 3600]", q)
	}
	var sum ConnEnds
	sum.Merge(e)
	sum.Merge(ConnEnds{Count: 1, Buckets: []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, AgeMS: 8 * 24 * 3600 * 1000})
	if sum.Count != 101 || sum.Buckets[11] != 1 || sum.Quantile(1) != LifetimeBounds[len(LifetimeBounds)-1] {
		t.Fatalf("merged %+v", sum)
	}
	// A bucket list of the wrong length from the wire cannot overrun.
	sum.Merge(ConnEnds{Count: 1, Buckets: make([]int, 40)})
	if (ConnEnds{}).Quantile(0.5) != 0 {
		t.Fatal("empty quantile")
	}
}

func TestConnAnalytics(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewConnAnalytics(from, from.Add(time.Hour))
	ends := func(cause string, n int, ageMS int64) map[string]ConnEnds {
		var e ConnEnds
		for range n {
			e.Add(ageMS, 2, 4)
		}
		return map[string]ConnEnds{cause: e}
	}
	a.Add(from.Add(time.Minute), &Health{Node: "gw-1", Opened: 10, Ends: ends(CauseClient, 3, 2000)})
	a.Add(from.Add(2*time.Minute), &Health{Node: "gw-1", Ends: ends(CauseStale, 1, 70000)})
	a.Add(from.Add(3*time.Minute), &Health{Node: "gw-2", Ends: ends(CauseClient, 4, 500)})
	a.Add(from.Add(2*time.Hour), &Health{Node: "gw-2", Ends: ends(CauseError, 100, 1)}) // outside the range
	rows := a.Rows()
	if len(rows) != 5 || a.Snapshots != 3 || a.Opened["gw-1"] != 10 {
		t.Fatalf("%d rows %+v, %d snapshots", len(rows), rows, a.Snapshots)
	}
	stale := rows[1]
	if stale.Node != "gw-1" || stale.Cause != CauseStale || !stale.Failure || stale.Share != 0.25 || stale.MeanS != 70 ||
		stale.InPer != 2 || stale.OutPer != 4 {
		t.Fatalf("stale row %+v", stale)
	}
	if fleet := rows[3]; fleet.Node != "*" || fleet.Cause != CauseClient || fleet.Closes != 7 {
		t.Fatalf("fleet row %+v", fleet)
	}
}
