package events_test

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events"
)

// FuzzDecodeRemedyRecord: whatever the record bucket holds never panics
// the decoder, and a value it accepts has figures the healer can choose
// by and the notifier and dashboard can quote.
func FuzzDecodeRemedyRecord(f *testing.F) {
	f.Add([]byte(storedRecord))
	f.Add([]byte(`{"kind":"k","remedy":"restart","attempts":3,"successes":2,"streak":1,"verify_buckets":[0,1,1,0,0,0,0,0,0,0]}`))
	f.Add([]byte(`{"kind":"k","remedy":"x","attempts":1,"successes":9}`))
	f.Add([]byte(`{"kind":"k","remedy":"x","verify_buckets":[1]}`))
	f.Add([]byte(`{"kind":"k","remedy":"x","attempts":2,"successes":2,"verify_ms":5,"verify_buckets":[0,0,0,0,0,0,0,0,0,0]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := events.DecodeRemedyRecord(b)
		if err != nil {
			return
		}
		if s := r.Score(); s <= 0 || s >= 1 {
			t.Fatalf("score %v of %+v", s, r)
		}
		if s := r.SuccessRate(); s < 0 || s > 1 {
			t.Fatalf("success rate %v of %+v", s, r)
		}
		if r.MedianVerify() < 0 {
			t.Fatalf("negative median of %+v", r)
		}
	})
}

// FuzzParseRecordKey: any key parses or is refused without a panic, and a
// key that parses is the key of what it parsed to.
func FuzzParseRecordKey(f *testing.F) {
	f.Add("node_down.node.restart")
	f.Add("=YS5i.fleet.=eCB5")
	f.Add("a.=.c")
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, key string) {
		kind, class, remedy, err := events.ParseRecordKey(key)
		if err != nil {
			return
		}
		if k := events.RecordKey(kind, class, remedy); k != key {
			t.Fatalf("%q parsed to %q %q %q, which is key %q", key, kind, class, remedy, k)
		}
	})
}
