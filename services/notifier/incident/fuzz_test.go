package incident

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// FuzzApplyEvent feeds arbitrary bytes, as read from the anomaly and
// remediation streams, through the decoder and the record's handling.
func FuzzApplyEvent(f *testing.F) {
	a := anomaly(events.KindNodeDown, "gw-1", t0, 0.1)
	for _, p := range []events.Payload{a, resolved(a, t0.Add(time.Minute)),
		&events.Remediation{ID: "r", AnomalyID: a.ID, Action: "restart", Target: "gw-1", Phase: "failed", Escalate: true, Deadline: t0}} {
		b, _ := events.New("/t", "s", p).Encode()
		f.Add(b)
	}
	f.Add([]byte(`{"specversion":"1.0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := events.Decode(b)
		if err != nil {
			return
		}
		r := newRecord("inc-f", "k", Group(a), a, t0)
		switch p := ev.Payload.(type) {
		case *events.Anomaly:
			if p.State == events.AnomalyOpen {
				r.addAnomaly(p)
			} else {
				_, _ = r.resolveAnomaly(p, ev.Time)
			}
		case *events.Remediation:
			r.addRemediation(p, ev.Time, 1)
		}
		r.decide(rules(), t0.Add(time.Hour))
		for _, id := range r.Open {
			if !slices.Contains(r.Anomalies, id) {
				t.Fatalf("open %s not an anomaly", id)
			}
		}
		if raw, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		} else if _, err := DecodeRecord(raw); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeRecord reads arbitrary bytes as a stored record.
func FuzzDecodeRecord(f *testing.F) {
	a := anomaly(events.KindNodeDown, "gw-1", t0, 0.1)
	raw, _ := json.Marshal(newRecord("inc-f", "k", Group(a), a, t0))
	f.Add(raw)
	f.Add([]byte(`{"id":"x","tracking":{"members":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err == nil {
			r.decide(rules(), t0)
		}
	})
}

func TestDecodeRecordDropsNullMembers(t *testing.T) {
	r, err := DecodeRecord([]byte(`{"id":"x","state":"triggered","tracking":{"members":{"a":null}}}`))
	if err != nil || len(r.Track.Members) != 0 {
		t.Fatalf("%v %v", r, err)
	}
	r.decide(rules(), t0)
}
