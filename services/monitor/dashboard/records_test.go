package dashboard_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

// The records view asks the healer's record verb and shows each record
// with its success rate, median time to verify and last outcomes; without
// a healer it says why the table is empty.
func TestRecordsView(t *testing.T) {
	srv := natstest.Start(t)
	s := serve(t, srv)
	var v dashboard.RecordsView
	if code := get(t, s.url, "/dash/records", &v); code != 200 || v.Error == "" || len(v.Records) != 0 {
		t.Fatalf("without a healer: %d %+v, want an error and no row", code, v)
	}
	now := time.Now().UTC()
	rec := events.RemedyRecord{Kind: events.KindNodeDown, Remedy: events.ActionRestart, Class: "node", Attempts: 4, Successes: 3,
		Streak: 1, VerifyBuckets: []int{0, 1, 2, 0, 0, 0, 0, 0, 0, 0}, VerifyMS: 9000, WastedMS: 30000, Failures: map[string]int{"deadline": 1},
		Last: []events.RemedyOutcome{{At: now, OK: true}, {At: now, OK: true}, {At: now, OK: true}, {At: now, OK: false, Reason: "deadline"}}}
	var mu sync.Mutex
	var asked []string
	answer(t, srv.Conn(), events.ControlSubject(events.ServiceHealer, events.VerbHealerRecord), func(req []byte) events.Reply {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, string(req))
		return ok(t, events.HealerRecord{Records: []events.RemedyRecord{rec}})
	})
	natstest.Eventually(t, 5*time.Second, func() bool {
		v = dashboard.RecordsView{}
		return get(t, s.url, "/dash/records", &v) == 200 && len(v.Records) == 1
	}, "no record in the view")
	want := dashboard.RecordRow{Kind: "node_down", Class: "node", Remedy: "restart", Attempts: 4, Successes: 3, SuccessRate: 0.75,
		MedianVerifyMS: 5000, Streak: 1, WastedMS: 30000, Last: "+++x"}
	if v.Error != "" || v.Records[0] != want {
		t.Fatalf("row %+v (error %q), want %+v", v.Records[0], v.Error, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || strings.Contains(asked[0], "kind") {
		t.Fatalf("asked %q, want every record", asked)
	}
}
