package record_test

import (
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer/record"
)

// FuzzAdd: whatever a bucket holds, a record that decodes
// (events.DecodeRemedyRecord, fuzzed with its decoder in pkg/events)
// keeps sane figures once an outcome is added to it.
func FuzzAdd(f *testing.F) {
	f.Add([]byte(`{"kind":"k","remedy":"restart","attempts":3,"successes":2,"streak":1,"verify_buckets":[0,1,1,0,0,0,0,0,0,0]}`), true)
	f.Add([]byte(`{"kind":"k","remedy":"x","attempts":1,"successes":1}`), false)
	f.Add([]byte(`{"kind":"k","remedy":"x","verify_buckets":[1]}`), true)
	f.Add([]byte(`null`), false)
	f.Fuzz(func(t *testing.T, b []byte, ok bool) {
		r, err := events.DecodeRemedyRecord(b)
		if err != nil {
			return
		}
		record.Add(&r, record.Outcome{Kind: r.Kind, Remedy: r.Remedy, Class: r.Class, OK: ok, Took: time.Second, At: time.Now()})
		if r.Successes > r.Attempts || r.Streak > r.Attempts {
			t.Fatalf("after add: %+v", r)
		}
		if s := record.Score(r); s <= 0 || s >= 1 {
			t.Fatalf("score %v of %+v", s, r)
		}
	})
}
