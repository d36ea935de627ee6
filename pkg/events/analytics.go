package events

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LifetimeBounds are the upper bounds, in seconds, of the connection age
// buckets of ConnEnds (and of the gateway's
// wsheal_gateway_connection_lifetime_seconds histogram); one more bucket
// holds the ages above the last bound.
var LifetimeBounds = []float64{1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 7 * 24 * 3600}

// ConnEnds aggregates the connections of one close cause that ended on a
// node within a health interval: every end is counted (a storm of closes
// costs one addition each, whatever its size), its age falls in a bucket.
type ConnEnds struct {
	Count int   `json:"count"`
	AgeMS int64 `json:"age_ms"` // sum of the ages
	// Buckets counts ages per LifetimeBounds, the last one above them all
	// (not cumulative).
	Buckets []int  `json:"buckets"`
	MsgsIn  uint64 `json:"msgs_in"`  // frames the ended connections received
	MsgsOut uint64 `json:"msgs_out"` // channel messages they were sent
}

// Add counts one connection's end.
func (e *ConnEnds) Add(ageMS int64, in, out uint64) {
	if len(e.Buckets) != len(LifetimeBounds)+1 {
		e.Buckets = make([]int, len(LifetimeBounds)+1)
	}
	e.Count++
	e.AgeMS += ageMS
	e.MsgsIn += in
	e.MsgsOut += out
	e.Buckets[LifetimeBucket(float64(ageMS)/1000)]++
}

// Merge adds o's counts to e.
func (e *ConnEnds) Merge(o ConnEnds) {
	if len(e.Buckets) != len(LifetimeBounds)+1 {
		e.Buckets = make([]int, len(LifetimeBounds)+1)
	}
	e.Count += o.Count
	e.AgeMS += o.AgeMS
	e.MsgsIn += o.MsgsIn
	e.MsgsOut += o.MsgsOut
	for i, n := range o.Buckets {
		if i < len(e.Buckets) && n > 0 {
			e.Buckets[i] += n
		}
	}
}

// LifetimeBucket is the index of the bucket an age in seconds falls in.
func LifetimeBucket(seconds float64) int {
	for i, b := range LifetimeBounds {
		if seconds <= b {
			return i
		}
	}
	return len(LifetimeBounds)
}

// Quantile estimates the q-quantile of the ages in seconds from the
// buckets (linear within a bucket, as Prometheus's histogram_quantile;
// the open last bucket answers its lower bound). 0 when empty.
func (e ConnEnds) Quantile(q float64) float64 {
	total := 0
	for _, n := range e.Buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	seen := 0.0
	for i, n := range e.Buckets {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			if i >= len(LifetimeBounds) {
				return LifetimeBounds[len(LifetimeBounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = LifetimeBounds[i-1]
			}
			return lo + (LifetimeBounds[i]-lo)*(rank-seen)/float64(n)
		}
		seen += float64(n)
	}
	return LifetimeBounds[len(LifetimeBounds)-1]
}

// Failure reports whether a close cause is the node's verdict on a
// failing connection (stale, slow, error) rather than an ordinary end
// (the client left, an idle eviction, a drain).
func Failure(cause string) bool {
	return cause == CauseStale || cause == CauseSlow || cause == CauseError
}

// ConnAnalytics is connection longevity and failure over a time range,
// by node and close cause, summed from health snapshots' Ends.
type ConnAnalytics struct {
	From      time.Time                      `json:"from"`
	To        time.Time                      `json:"to"`
	Snapshots int                            `json:"snapshots"`
	Opened    map[string]int                 `json:"opened"` // by node
	Ends      map[string]map[string]ConnEnds `json:"ends"`   // node -> cause -> ends
}

// NewConnAnalytics starts an empty aggregate over [from, to).
func NewConnAnalytics(from, to time.Time) *ConnAnalytics {
	return &ConnAnalytics{From: from, To: to, Opened: map[string]int{}, Ends: map[string]map[string]ConnEnds{}}
}

// Add sums one health snapshot taken at at; one outside the range is
// ignored.
func (a *ConnAnalytics) Add(at time.Time, h *Health) {
	if at.Before(a.From) || !at.Before(a.To) || h == nil || h.Node == "" {
		return
	}
	a.Snapshots++
	a.Opened[h.Node] += h.Opened
	for cause, e := range h.Ends {
		if a.Ends[h.Node] == nil {
			a.Ends[h.Node] = map[string]ConnEnds{}
		}
		sum := a.Ends[h.Node][cause]
		sum.Merge(e)
		a.Ends[h.Node][cause] = sum
	}
}

// ConnAnalyticsRow is one (node, cause) line of a report; node "*" is the
// whole fleet.
type ConnAnalyticsRow struct {
	Node    string  `json:"node"`
	Cause   string  `json:"cause"`
	Failure bool    `json:"failure"`
	Closes  int     `json:"closes"`
	Share   float64 `json:"share"` // of the node's closes
	MeanS   float64 `json:"mean_s"`
	P50S    float64 `json:"p50_s"`
	P90S    float64 `json:"p90_s"`
	InPer   float64 `json:"msgs_in_per_conn"`
	OutPer  float64 `json:"msgs_out_per_conn"`
}

// Rows are the report, by node then cause, the fleet's rows last.
func (a *ConnAnalytics) Rows() []ConnAnalyticsRow {
	fleet := map[string]ConnEnds{}
	nodes := make([]string, 0, len(a.Ends))
	for node, byCause := range a.Ends {
		nodes = append(nodes, node)
		for cause, e := range byCause {
			f := fleet[cause]
			f.Merge(e)
			fleet[cause] = f
		}
	}
	sort.Strings(nodes)
	var out []ConnAnalyticsRow
	for _, node := range nodes {
		out = append(out, rows(node, a.Ends[node])...)
	}
	return append(out, rows("*", fleet)...)
}

func rows(node string, byCause map[string]ConnEnds) []ConnAnalyticsRow {
	total := 0
	causes := make([]string, 0, len(byCause))
	for cause, e := range byCause {
		total += e.Count
		causes = append(causes, cause)
	}
	sort.Strings(causes)
	var out []ConnAnalyticsRow
	for _, cause := range causes {
		e := byCause[cause]
		if e.Count == 0 {
			continue
		}
		n := float64(e.Count)
		out = append(out, ConnAnalyticsRow{Node: node, Cause: cause, Failure: Failure(cause), Closes: e.Count,
			Share: n / float64(total), MeanS: float64(e.AgeMS) / 1000 / n, P50S: e.Quantile(0.5), P90S: e.Quantile(0.9),
			InPer: float64(e.MsgsIn) / n, OutPer: float64(e.MsgsOut) / n})
	}
	return out
}

// ReadConnAnalytics sums the health snapshots that StreamHealth keeps in
// [start, end), reading them once with an ordered consumer.
func ReadConnAnalytics(ctx context.Context, js jetstream.JetStream, start, end time.Time) (*ConnAnalytics, error) {
	cons, err := js.OrderedConsumer(ctx, StreamHealth, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{HealthAll}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start})
	if err != nil {
		return nil, fmt.Errorf("events: stream %s: %w", StreamHealth, err)
	}
	a := NewConnAnalytics(start, end)
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			return a, nil // nothing newer
		}
		if err != nil {
			return nil, fmt.Errorf("events: read %s: %w", StreamHealth, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return nil, err
		}
		if !meta.Timestamp.Before(end) {
			return a, nil
		}
		if ev, err := Decode(msg.Data()); err == nil {
			if h, ok := ev.Payload.(*Health); ok {
				a.Add(meta.Timestamp, h)
			}
		}
		if meta.NumPending == 0 {
			return a, nil
		}
	}
	return nil, ctx.Err()
}
