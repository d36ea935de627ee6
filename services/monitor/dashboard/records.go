package dashboard

import (
	"net/http"
	"strings"

	"github.com/wsheal/wsheal/pkg/events"
)

// RecordRow is one record of the healer's (events.RemedyRecord) as the
// records view shows it, with its figures worked out.
type RecordRow struct {
	Kind      string `json:"kind"`
	Class     string `json:"class"`
	Remedy    string `json:"remedy"`
	Attempts  int    `json:"attempts"`
	Successes int    `json:"successes"`
	// SuccessRate is successes/attempts, 0 without an attempt
	// (events.RemedyRecord.SuccessRate).
	SuccessRate float64 `json:"success_rate"`
	// MedianVerifyMS is the median time to verify of the successes, as the
	// healer computes it (events.RemedyRecord.MedianVerify: the upper bound
	// of the bucket that holds it); 0 without a success.
	MedianVerifyMS int64 `json:"median_verify_ms"`
	Streak         int   `json:"streak"`
	WastedMS       int64 `json:"wasted_ms"`
	// Last is the last outcomes, oldest first: "+" a success, "x" a failure.
	Last string `json:"last"`
}

// RecordsView is the reply of /dash/records.
type RecordsView struct {
	Records []RecordRow `json:"records"`
	Error   string      `json:"error,omitempty"`
}

// records asks the healer for its record (its `record` verb) and answers
// the rows; a failed request is the view's error, not an HTTP error, so
// the page says why the table is empty.
func (d *Dashboard) records(w http.ResponseWriter, r *http.Request) {
	v := RecordsView{Records: []RecordRow{}}
	rec, err := ask(r.Context(), d, events.CtlHealerRecord, events.HealerRecordRequest{})
	if err != nil {
		v.Error = err.Error()
	}
	for _, x := range rec.Records {
		v.Records = append(v.Records, recordRow(x))
	}
	writeJSON(w, http.StatusOK, &v)
}

func recordRow(r events.RemedyRecord) RecordRow {
	row := RecordRow{Kind: r.Kind, Class: r.Class, Remedy: r.Remedy, Attempts: r.Attempts, Successes: r.Successes,
		SuccessRate: r.SuccessRate(), MedianVerifyMS: r.MedianVerify().Milliseconds(), Streak: r.Streak, WastedMS: r.WastedMS}
	var b strings.Builder
	for _, o := range r.Last {
		if o.OK {
			b.WriteByte('+')
		} else {
			b.WriteByte('x')
		}
	}
	row.Last = b.String()
	return row
}
