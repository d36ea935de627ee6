package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
)

func analyticsCmd() *cobra.Command {
	var (
		since    time.Duration
		from, to string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:     "analytics",
		GroupID: "ops",
		Short:   "Connection longevity and failure rates by node and close cause over a time range",
		Long: `Read the gateways' health snapshots kept in the WSHEAL_HEALTH stream over a
time range and sum the connections that ended in it, by node and close cause:
how many, their share of the node's closes, how long they had lived (mean,
p50, p90 from age buckets) and the messages each received and was sent.
stale, slow and error are failures (the node ended a failing connection);
client, idle and drained are ordinary ends. Node * is the whole fleet.

Every end is counted (a storm costs one addition per close on the node);
the range reaches back as far as the stream keeps snapshots (6 h).`,
		Example: `  wsheal analytics                      # the last hour
  wsheal analytics --since 6h
  wsheal analytics --from 2026-01-02T10:00:00Z --to 2026-01-02T11:00:00Z
  wsheal analytics --json | jq '.rows[] | select(.failure)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start, end, err := analyticsRange(time.Now(), since, from, to)
			if err != nil {
				return err
			}
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			a, err := events.ReadConnAnalytics(cmd.Context(), js, start, end)
			if err != nil {
				return err
			}
			return printAnalytics(cmd.OutOrStdout(), a, asJSON)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&since, "since", time.Hour, "how far back from now (ignored with --from)")
	f.StringVar(&from, "from", "", "start of the range, RFC 3339")
	f.StringVar(&to, "to", "", "end of the range, RFC 3339 (default: now)")
	f.BoolVar(&asJSON, "json", false, "print the aggregate and its rows as JSON")
	return cmd
}

// analyticsRange reads the flags into [start, end).
func analyticsRange(now time.Time, since time.Duration, from, to string) (time.Time, time.Time, error) {
	end := now
	if to != "" {
		t, err := time.Parse(time.RFC3339, to)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--to %q: want RFC 3339 (2026-01-02T15:04:05Z): %w", to, err)
		}
		end = t
	}
	if since <= 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("--since %v: want a positive duration", since)
	}
	start := end.Add(-since)
	if from != "" {
		t, err := time.Parse(time.RFC3339, from)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--from %q: want RFC 3339 (2026-01-02T15:04:05Z): %w", from, err)
		}
		start = t
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, fmt.Errorf("empty range: %s is not before %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, nil
}

func printAnalytics(w io.Writer, a *events.ConnAnalytics, asJSON bool) error {
	rows := a.Rows()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*events.ConnAnalytics
			Rows []events.ConnAnalyticsRow `json:"rows"`
		}{a, rows})
	}
	fmt.Fprintf(w, "%s to %s: %d health snapshots\n", a.From.UTC().Format(time.RFC3339), a.To.UTC().Format(time.RFC3339), a.Snapshots)
	if len(rows) == 0 {
		fmt.Fprintln(w, "no connection ended in the range")
		return nil
	}
	tw := table(w)
	fmt.Fprintln(tw, "NODE\tCAUSE\tCLOSES\tSHARE\tMEAN AGE\tP50\tP90\tIN/CONN\tOUT/CONN")
	for _, r := range rows {
		cause := r.Cause
		if r.Failure {
			cause += " (failure)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%s\t%s\t%s\t%.1f\t%.1f\n", r.Node, cause, r.Closes, 100*r.Share,
			secs(r.MeanS), secs(r.P50S), secs(r.P90S), r.InPer, r.OutPer)
	}
	return tw.Flush()
}

// secs prints seconds as a rounded duration.
func secs(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
