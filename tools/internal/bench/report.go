package bench

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run. Durations are in milliseconds.
type Report struct {
	Clients         int     `json:"clients"`
	Publishers      int     `json:"publishers"`
	Channels        int     `json:"channels"`
	ConnectionsHeld int     `json:"connections_held"`
	ConnectFailures int     `json:"connect_failures"`
	DurationS       float64 `json:"duration_s"`
	RatePerS        float64 `json:"rate_per_s"`
	SizeBytes       int     `json:"size_bytes"`

	Sent            uint64  `json:"sent"`
	SentPerS        float64 `json:"sent_per_s"`
	PublishErrors   uint64  `json:"publish_errors"`
	Expected        uint64  `json:"expected_deliveries"`
	Delivered       uint64  `json:"delivered"`
	DeliveredPerS   float64 `json:"delivered_per_s"`
	Lost            uint64  `json:"lost"`
	Duplicated      uint64  `json:"duplicated"`
	OutOfOrder      uint64  `json:"out_of_order"`
	UnackedDelivery uint64  `json:"unacked_delivered"`
	Malformed       uint64  `json:"malformed"`
	Gaps            uint64  `json:"gaps"`

	LatencyP50MS  float64 `json:"latency_p50_ms"`
	LatencyP99MS  float64 `json:"latency_p99_ms"`
	LatencyP999MS float64 `json:"latency_p999_ms"`
	LatencyMaxMS  float64 `json:"latency_max_ms"`

	Reconnects       uint64            `json:"reconnects"`
	ReconnectP50MS   float64           `json:"time_to_reconnect_p50_ms"`
	ReconnectMaxMS   float64           `json:"time_to_reconnect_max_ms"`
	DisconnectCauses map[string]uint64 `json:"disconnect_causes,omitempty"`
	Interrupted      bool              `json:"interrupted,omitempty"`
	Errors           []string          `json:"errors,omitempty"`
	ElapsedS         float64           `json:"elapsed_s"`
}

// report builds the report; pubStart and pubEnd frame the publishing.
func (r *run) report(start, pubStart, pubEnd time.Time, interrupted bool) *Report {
	lost, unacked := r.missing()
	t := &r.t
	rep := &Report{
		Clients: r.cfg.Clients, Publishers: r.cfg.Publishers, Channels: r.cfg.Channels,
		DurationS: pubEnd.Sub(pubStart).Seconds(),
		RatePerS:  r.cfg.Rate, SizeBytes: r.cfg.Size,
		Sent: t.sent.Load(), PublishErrors: t.pubErrors.Load(), Expected: t.expected.Load(),
		Delivered: t.unique.Load() - unacked, Lost: lost, Duplicated: t.dups.Load(),
		OutOfOrder: t.outOfOrder.Load(), UnackedDelivery: unacked, Malformed: t.malformed.Load(),
		Gaps:          t.gaps.Load(),
		LatencyP50MS:  ms(t.latency.Quantile(0.50)),
		LatencyP99MS:  ms(t.latency.Quantile(0.99)),
		LatencyP999MS: ms(t.latency.Quantile(0.999)),
		LatencyMaxMS:  ms(t.latency.Max()),
		Reconnects:    t.reconnects.Load(), ReconnectP50MS: ms(t.reconnect.Quantile(0.5)),
		ReconnectMaxMS: ms(t.reconnect.Max()), Interrupted: interrupted,
		ElapsedS: time.Since(start).Seconds(),
	}
	if rep.DurationS > 0 {
		rep.SentPerS = float64(rep.Sent) / rep.DurationS
	}
	if last := t.lastDelivery.Load(); last > pubStart.UnixNano() {
		rep.DeliveredPerS = float64(t.unique.Load()) / time.Unix(0, last).Sub(pubStart).Seconds()
	}
	r.mu.Lock()
	for _, s := range r.subs {
		if s.c.Connected() {
			rep.ConnectionsHeld++
		}
	}
	rep.ConnectFailures = r.failed
	for e, n := range r.errs {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%dx %s", n, e))
	}
	r.mu.Unlock()
	sort.Strings(rep.Errors)
	t.causeMu.Lock()
	if len(t.causes) > 0 {
		rep.DisconnectCauses = maps.Clone(t.causes)
	}
	t.causeMu.Unlock()
	return rep
}

// Table renders the report for people.
func (r *Report) Table() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(k, f string, a ...any) { fmt.Fprintf(w, "%s\t"+f+"\n", append([]any{k}, a...)...) }
	row("connections held", "%d of %d (+%d publishers), %d failed to connect", r.ConnectionsHeld, r.Clients, r.Publishers, r.ConnectFailures)
	row("channels", "%d", r.Channels)
	row("publishing", "%.1fs, target %.0f/s, %d bytes", r.DurationS, r.RatePerS, r.SizeBytes)
	row("sent (acked)", "%d (%.0f/s; %d errors)", r.Sent, r.SentPerS, r.PublishErrors)
	row("expected deliveries", "%d", r.Expected)
	row("delivered", "%d (%.0f/s)", r.Delivered, r.DeliveredPerS)
	row("lost", "%d", r.Lost)
	row("duplicated", "%d", r.Duplicated)
	row("out of order", "%d", r.OutOfOrder)
	row("gaps (recovered:false)", "%d", r.Gaps)
	row("latency p50/p99/p99.9/max", "%.2f / %.2f / %.2f / %.2f ms", r.LatencyP50MS, r.LatencyP99MS, r.LatencyP999MS, r.LatencyMaxMS)
	row("reconnects", "%d", r.Reconnects)
	row("time to reconnect p50/max", "%.0f / %.0f ms", r.ReconnectP50MS, r.ReconnectMaxMS)
	for _, k := range slices.Sorted(maps.Keys(r.DisconnectCauses)) {
		row("disconnects: "+k, "%d", r.DisconnectCauses[k])
	}
	if r.UnackedDelivery > 0 || r.Malformed > 0 {
		row("unacked delivered, malformed", "%d, %d", r.UnackedDelivery, r.Malformed)
	}
	if r.Interrupted {
		row("interrupted", "yes: partial results")
	}
	for _, e := range r.Errors {
		row("error", "%s", e)
	}
	_ = w.Flush()
	return b.String()
}
