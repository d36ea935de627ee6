package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
)

// MaxAnalyticsRange bounds the range /dash/analytics reads: the health
// stream keeps no older snapshots.
const MaxAnalyticsRange = events.HealthRetention

// Analytics is the reply of /dash/analytics: connection longevity and
// failure by node and close cause (events.ConnAnalytics and its rows).
type Analytics struct {
	*events.ConnAnalytics
	Rows []events.ConnAnalyticsRow `json:"rows"`
}

// analytics answers GET /dash/analytics?since=1h (1m to 6h).
func (d *Dashboard) analytics(w http.ResponseWriter, r *http.Request) {
	since := time.Hour
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = time.ParseDuration(v); err != nil || since < time.Minute || since > MaxAnalyticsRange {
			writeErr(w, http.StatusBadRequest, fmt.Errorf("since=%q: want a duration from 1m to %v (the health stream keeps no older snapshots)", v, MaxAnalyticsRange))
			return
		}
	}
	nc, err := d.conn()
	if err != nil {
		d.reply(w, err, nil)
		return
	}
	js, err := jetstream.New(nc)
	if err != nil {
		d.reply(w, err, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 8*time.Second)
	defer cancel()
	end := time.Now()
	a, err := events.ReadConnAnalytics(ctx, js, end.Add(-since), end)
	if err != nil {
		d.reply(w, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, Analytics{ConnAnalytics: a, Rows: a.Rows()})
}
