// Package record keeps the healer's record: per (anomaly kind, remedy,
// target class) how often the remedy was tried, how often its
// post-condition held, why it failed, how long it took to verify, what it
// disturbed (clients moved, pages) and its last outcomes. The record lives
// in a JetStream KV bucket (events.BucketRecord), so every replica reads
// and writes the same one and a restart keeps it; an attempt's end is
// added with a revision check and retried when another replica wrote in
// between, so no update is lost.
//
// The arithmetic (Add) is pure; Store does the I/O. The record's key, its
// decoder and the figures read from it (score, success rate, median time
// to verify) are the contract's (pkg/events record.go), shared with the
// notifier's reviews and the monitor's dashboard.
package record

import (
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Failure reasons of an Outcome.
const (
	ReasonError    = "error"    // the action was refused or failed
	ReasonDeadline = "deadline" // its post-condition did not hold in time
)

// Classes of target.
const (
	ClassNode  = "node"
	ClassFleet = "fleet"
)

// LastN is how many outcomes a record keeps.
const LastN = 10

// Outcome is the end of one attempt of a remedy.
type Outcome struct {
	Kind, Remedy, Class string
	Anomaly             string
	OK                  bool
	Reason              string        // when not OK
	Took                time.Duration // from the attempt's start to its end
	ClientsMoved        int
	Paged               bool // the case went to a person after this failure
	At                  time.Time
}

// Class is the target class of an anomaly's target.
func Class(target string) string {
	if target == events.FleetTarget {
		return ClassFleet
	}
	return ClassNode
}

// Add counts an outcome into r.
func Add(r *events.RemedyRecord, o Outcome) {
	r.Kind, r.Remedy, r.Class = o.Kind, o.Remedy, o.Class
	r.Attempts++
	ms := o.Took.Milliseconds()
	if o.OK {
		r.Successes++
		r.Streak = 0
		if len(r.VerifyBuckets) != len(events.VerifyBounds)+1 {
			r.VerifyBuckets = make([]int, len(events.VerifyBounds)+1)
		}
		r.VerifyBuckets[bucket(o.Took)]++
		r.VerifyMS += ms
	} else {
		r.Streak++
		if r.Failures == nil {
			r.Failures = map[string]int{}
		}
		reason := o.Reason
		if reason == "" {
			reason = ReasonDeadline
		}
		r.Failures[reason]++
		r.WastedMS += ms
	}
	r.ClientsMoved += o.ClientsMoved
	if o.Paged {
		r.Pages++
	}
	r.Last = append(r.Last, events.RemedyOutcome{At: o.At.UTC(), Anomaly: o.Anomaly, OK: o.OK, Reason: o.Reason,
		MS: ms, ClientsMoved: o.ClientsMoved, Paged: o.Paged})
	if len(r.Last) > LastN {
		r.Last = r.Last[len(r.Last)-LastN:]
	}
	r.Updated = o.At.UTC()
}

func bucket(d time.Duration) int {
	s := d.Seconds()
	for i, b := range events.VerifyBounds {
		if s <= b {
			return i
		}
	}
	return len(events.VerifyBounds)
}

// Score is the success rate the healer chooses by
// (events.RemedyRecord.Score).
func Score(r events.RemedyRecord) float64 { return r.Score() }

// MedianVerify is the median time to verify of the successes
// (events.RemedyRecord.MedianVerify).
func MedianVerify(r events.RemedyRecord) time.Duration { return r.MedianVerify() }

// Sort orders records by kind, class and remedy (events.SortRemedyRecords).
func Sort(rs []events.RemedyRecord) { events.SortRemedyRecords(rs) }
