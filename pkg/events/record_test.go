package events_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// storedRecord is a value the healer wrote to BucketRecord before the
// record's decoder and figures moved here (services/healer/record.Add,
// json.Marshal): buckets that hold it keep working.
const storedRecord = `{"kind":"node_down","remedy":"restart","class":"node","attempts":5,"successes":3,` +
	`"failures":{"deadline":1,"error":1},"streak":1,"verify_buckets":[0,1,1,0,0,0,0,0,0,1],"verify_ms":425500,` +
	`"wasted_ms":33000,"clients_moved":9,"pages":1,"last":[` +
	`{"at":"2026-11-30T08:15:00Z","anomaly":"an-1","ok":false,"reason":"error","ms":3000,"paged":true},` +
	`{"at":"2026-11-30T08:16:00Z","anomaly":"an-1","ok":true,"ms":1500,"clients_moved":3},` +
	`{"at":"2026-11-30T08:17:00Z","anomaly":"an-1","ok":true,"ms":4000,"clients_moved":3},` +
	`{"at":"2026-11-30T08:18:00Z","anomaly":"an-1","ok":true,"ms":420000,"clients_moved":3},` +
	`{"at":"2026-11-30T08:15:00Z","anomaly":"an-1","ok":false,"ms":30000}],"updated":"2026-11-30T08:15:00Z"}`

func TestDecodeStoredRecord(t *testing.T) {
	r, err := events.DecodeRemedyRecord([]byte(storedRecord))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "node_down" || r.Class != "node" || r.Remedy != "restart" || r.Attempts != 5 || r.Successes != 3 ||
		r.Failures["error"] != 1 || r.Failures["deadline"] != 1 || r.Streak != 1 || r.VerifyMS != 425500 ||
		r.WastedMS != 33000 || r.ClientsMoved != 9 || r.Pages != 1 || len(r.Last) != 5 || !r.Last[1].OK ||
		r.Last[0].Reason != "error" || !r.Updated.Equal(time.Date(2026, 11, 30, 8, 15, 0, 0, time.UTC)) {
		t.Fatalf("decoded %+v", r)
	}
	if s := r.Score(); s != 4.0/7 {
		t.Fatalf("score %v, want 4/7", s)
	}
	if s := r.SuccessRate(); s != 0.6 {
		t.Fatalf("success rate %v, want 0.6", s)
	}
	if m := r.MedianVerify(); m != 5*time.Second {
		t.Fatalf("median %v, want 5s (the bucket of 4s)", m)
	}
	// The value written back is the value read: the stored form is unchanged.
	b, err := json.Marshal(r)
	if err != nil || string(b) != storedRecord {
		t.Fatalf("re-encoded\n%s\nwant\n%s (%v)", b, storedRecord, err)
	}
}

func TestRecordFigures(t *testing.T) {
	var untried events.RemedyRecord
	if untried.Score() != 0.5 || untried.SuccessRate() != 0 || untried.MedianVerify() != 0 {
		t.Fatalf("untried: %v %v %v", untried.Score(), untried.SuccessRate(), untried.MedianVerify())
	}
	slow := events.RemedyRecord{Attempts: 2, Successes: 2, VerifyMS: 1_200_000,
		VerifyBuckets: make([]int, len(events.VerifyBounds)+1)}
	slow.VerifyBuckets[len(events.VerifyBounds)] = 2
	if m := slow.MedianVerify(); m != 10*time.Minute {
		t.Fatalf("median above every bound %v, want the mean 10m", m)
	}
	odd := events.RemedyRecord{Attempts: 1, Successes: 1, VerifyBuckets: []int{1}}
	if m := odd.MedianVerify(); m != 0 {
		t.Fatalf("median of unknown buckets %v, want 0", m)
	}
}

func TestDecodeRemedyRecordRefuses(t *testing.T) {
	for _, v := range []string{
		`{not json`,
		`null`,
		`{"kind":"node_down","attempts":1}`,
		`{"remedy":"drain","attempts":1}`,
		`{"kind":"k","remedy":"drain","attempts":1,"successes":9}`,
		`{"kind":"k","remedy":"drain","attempts":1,"streak":2}`,
		`{"kind":"k","remedy":"drain","attempts":-1}`,
		`{"kind":"k","remedy":"drain","verify_buckets":[1]}`,
		`{"kind":"k","remedy":"drain","attempts":1,"failures":{"error":-1}}`,
		`{"kind":"k","remedy":"drain","pages":-1}`,
	} {
		if r, err := events.DecodeRemedyRecord([]byte(v)); !errors.Is(err, events.ErrRecordValue) {
			t.Errorf("%s: %+v %v, want ErrRecordValue", v, r, err)
		}
	}
}

func TestRecordKey(t *testing.T) {
	for in, want := range map[string]string{"node_down": "node_down", "": "=", "a.b": "=YS5i", "gw-1": "gw-1", "x y": "=eCB5"} {
		if got := events.RecordKeyToken(in); got != want {
			t.Fatalf("RecordKeyToken(%q) = %q, want %q", in, got, want)
		}
	}
	if k := events.RecordKey("a.b", "fleet", "x y"); k != "=YS5i.fleet.=eCB5" {
		t.Fatalf("key %q", k)
	}
	kind, class, remedy, err := events.ParseRecordKey("=YS5i.fleet.=eCB5")
	if err != nil || kind != "a.b" || class != "fleet" || remedy != "x y" {
		t.Fatalf("parse: %q %q %q %v", kind, class, remedy, err)
	}
	for _, bad := range []string{"a.b", "a.b.c.d", "a..c", "a.=!!.c", "=bm9kZQ.node.x", "a.b.c d"} {
		if _, _, _, err := events.ParseRecordKey(bad); !errors.Is(err, events.ErrRecordValue) {
			t.Errorf("ParseRecordKey(%q): %v, want ErrRecordValue", bad, err)
		}
	}
	for _, c := range []struct{ kind, class, want string }{
		{"", "", ">"}, {"node_down", "", "node_down.>"}, {"node_down", "node", "node_down.node.>"}, {"a.b", "", "=YS5i.>"},
	} {
		if got := events.RecordKeyFilter(c.kind, c.class); got != c.want {
			t.Errorf("RecordKeyFilter(%q, %q) = %q, want %q", c.kind, c.class, got, c.want)
		}
	}
}

func TestSortRemedyRecords(t *testing.T) {
	rs := []events.RemedyRecord{
		{Kind: "b", Class: "node", Remedy: "a"}, {Kind: "a", Class: "node", Remedy: "z"},
		{Kind: "a", Class: "fleet", Remedy: "z"}, {Kind: "a", Class: "node", Remedy: "b"},
	}
	events.SortRemedyRecords(rs)
	got := ""
	for _, r := range rs {
		got += r.Kind + r.Class + r.Remedy + " "
	}
	if got != "afleetz anodeb anodez bnodea " {
		t.Fatalf("order %q", got)
	}
}
