package detect

import (
	"testing"
	"time"
)

// flapRun feeds a flapping detector a node's entries and the moments the
// fleet shared a condition, checking every 250 ms as the monitor's tick
// does, and returns whether it fired by end.
func flapRun(entries map[time.Duration]bool, shared []time.Duration, end time.Duration) (fired bool, changes float64) {
	d := NewFlapping(DefaultFlapping())
	for at := time.Duration(0); at <= end; at += 250 * time.Millisecond {
		for e, alone := range entries {
			if e > at-250*time.Millisecond && e <= at {
				d.Change("n1", t0.Add(e), alone)
			}
		}
		for _, s := range shared {
			if s > at-250*time.Millisecond && s <= at {
				d.Shared(t0.Add(s))
			}
		}
		for _, tr := range d.Check(t0.Add(at)) {
			if tr.Open {
				fired, changes = true, tr.Evidence.Value
			}
		}
	}
	return fired, changes
}

// TestFlappingSharedEntries: a node's entries that the fleet shares are
// not its flapping, whether the fleet's lapse is seen just before or just
// after the node's own (nodes fall late one after the other within a
// beat interval); entries of its own count, and a dead process counts at
// once.
func TestFlappingSharedEntries(t *testing.T) {
	const stall = 6500 * time.Millisecond
	var sharedAfter, sharedBefore, sharedFar []time.Duration
	entries, alone, sparse := map[time.Duration]bool{}, map[time.Duration]bool{}, map[time.Duration]bool{}
	for i := range 7 {
		at := time.Duration(i) * 40 * time.Second
		sparse[at] = false
		sharedFar = append(sharedFar, at+20*time.Second) // the fleet shares something else, far from it
	}
	for i := range 12 {
		at := time.Duration(i)*stall + time.Second
		entries[at] = false
		alone[at] = true
		sharedAfter = append(sharedAfter, at+900*time.Millisecond)   // the others fall late after it
		sharedBefore = append(sharedBefore, at-800*time.Millisecond) // it falls late after the others
	}
	end := 7*40*time.Second + 10*time.Second
	cases := []struct {
		name    string
		entries map[time.Duration]bool
		shared  []time.Duration
		want    bool
	}{
		{"its own lapses, twelve in 80 s", entries, nil, true},
		{"the fleet falls late just after it", entries, sharedAfter, false},
		{"the fleet fell late just before it", entries, sharedBefore, false},
		{"the fleet shares something 20 s away", sparse, sharedFar, true},
		{"a dead process counts whatever the fleet does", alone, sharedAfter, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fired, n := flapRun(c.entries, c.shared, end)
			if fired != c.want {
				t.Fatalf("fired %v (%v changes), want %v", fired, n, c.want)
			}
		})
	}
}

// TestFlappingEntriesSettleFirst: an entry counts only once Settle has
// passed, and the node is not forgotten while entries are pending.
func TestFlappingEntriesSettleFirst(t *testing.T) {
	cfg := DefaultFlapping()
	cfg.Changes, cfg.LeaveChanges = 2, 0
	d := NewFlapping(cfg)
	d.Change("n1", t0, false)
	d.Change("n1", t0.Add(time.Second), false)
	if ts := d.Check(t0.Add(2 * time.Second)); len(ts) != 0 {
		t.Fatalf("fired before the entries settled: %+v", ts)
	}
	ts := d.Check(t0.Add(time.Second + cfg.Settle))
	if len(ts) != 1 || !ts[0].Open || !ts[0].Start.Equal(t0) {
		t.Fatalf("after settling: %+v, want one open from t0", ts)
	}
}
