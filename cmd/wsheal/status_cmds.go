package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
)

// ask calls a singleton service's endpoint and explains silence.
func ask[Req, Rep any](ctx context.Context, ep events.Endpoint[Req, Rep], req Req) (Rep, error) {
	nc, err := connect()
	if err != nil {
		var zero Rep
		return zero, err
	}
	defer nc.Close()
	return askOn(ctx, nc, ep, req)
}

func askOn[Req, Rep any](ctx context.Context, nc *nats.Conn, ep events.Endpoint[Req, Rep], req Req) (Rep, error) {
	ctx, cancel := context.WithTimeout(ctx, natsOpts.Timeout)
	defer cancel()
	rep, err := ep.Call(ctx, nc, req)
	return rep, explain(err, ep.Service, ep.Subject(""))
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func jsonFlag(cmd *cobra.Command) *bool {
	return cmd.Flags().Bool("json", false, "print the reply as JSON")
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func statusCmd() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:     "status",
		GroupID: "ops",
		Short:   "The fleet table: node, state, connections/capacity, RTT p99, stale, draining",
		Example: `  wsheal status
  wsheal status --state down
  wsheal status --json
  nats req wsheal.ctl.monitor.status '{}'`,
		Args: cobra.NoArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&state, "state", "", "only nodes in this state (healthy, degraded, suspect, down, draining, quarantined, stopped)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fs, err := ask(cmd.Context(), events.CtlMonitorStatus, events.FleetStatusRequest{State: state})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), fs)
		}
		printFleet(cmd.OutOrStdout(), fs)
		return nil
	}
	return cmd
}

func printFleet(w io.Writer, fs events.FleetStatus) {
	tw := table(w)
	fmt.Fprintln(tw, "NODE\tSTATE\tSINCE\tCONNS\tRTT P99\tSTALE\tDRAINING\tANOMALIES\tREASON")
	for _, n := range fs.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%.1fms\t%d\t%v\t%d\t%s\n", n.Node, n.State, ago(n.Since),
			n.Connections, n.Capacity, n.RTTP99, n.Stale, n.Draining, n.OpenAnomalies, n.Reason)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%d nodes, %d/%d connections, %d open anomalies", len(fs.Nodes), fs.Connections, fs.Capacity, fs.OpenAnomalies)
	if fs.Panic {
		fmt.Fprint(w, ", PANIC: most of the fleet went silent at once; node states are held (suspect NATS or the network)")
	}
	fmt.Fprintln(w)
}

func nodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "node <node>",
		GroupID: "ops",
		Short:   "One node's detail: state history, last health snapshot, open anomalies",
		Example: `  wsheal node gw-2`,
		Args:    cobra.ExactArgs(1),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		d, err := ask(cmd.Context(), events.CtlMonitorNode, events.NodeRequest{Node: args[0]})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), d)
		}
		w := cmd.OutOrStdout()
		s := d.Status
		fmt.Fprintf(w, "%s  %s since %s  %s\n", s.Node, s.State, ago(s.Since), s.URL)
		fmt.Fprintf(w, "connections %d/%d  rtt p99 %.1fms  stale %d  draining %v  last heartbeat %s\n",
			s.Connections, s.Capacity, s.RTTP99, s.Stale, s.Draining, ago(s.LastHeartbeat))
		if h := d.Health; h != nil {
			fmt.Fprintf(w, "health: opened %d closed %v rejected %d accept %.1f/s slow %d backlog %d msgs in/out %d/%d errors %d heap %dMB goroutines %d\n",
				h.Opened, h.Closed, h.Rejected, h.AcceptRate, h.SlowConsumers, h.SendBacklog, h.MsgsIn, h.MsgsOut, h.Errors, h.HeapBytes>>20, h.Goroutines)
		}
		if d.Quarantine != nil {
			fmt.Fprintf(w, "QUARANTINED since %s by %s: %s\n", ago(d.Quarantine.Since), d.Quarantine.By, d.Quarantine.Reason)
		}
		fmt.Fprintln(w, "\nhistory:")
		for _, c := range d.History {
			fmt.Fprintf(w, "  %s  %s -> %s  %s\n", c.At.Local().Format("15:04:05"), c.From, c.To, c.Reason)
		}
		if len(d.Anomalies) > 0 {
			fmt.Fprintln(w, "\nopen anomalies:")
			printAnomalies(w, d.Anomalies)
		}
		return nil
	}
	return cmd
}

func anomaliesCmd() *cobra.Command {
	var req events.AnomaliesRequest
	cmd := &cobra.Command{
		Use:     "anomalies",
		GroupID: "ops",
		Short:   "The monitor's open anomalies",
		Example: `  wsheal anomalies
  wsheal anomalies --kind node_down`,
		Args: cobra.NoArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&req.Kind, "kind", "", "only this kind")
	cmd.Flags().StringVar(&req.Target, "target", "", "only this node (or fleet)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		l, err := ask(cmd.Context(), events.CtlMonitorAnomalies, req)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), l)
		}
		if len(l.Anomalies) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "no open anomalies")
		} else {
			printAnomalies(cmd.OutOrStdout(), l.Anomalies)
		}
		printCorrelation(cmd.OutOrStdout(), l.Correlation)
		return nil
	}
	return cmd
}

// printCorrelation states the rule that tells a node's trouble from the
// fleet's, and the node verdicts it holds.
func printCorrelation(w io.Writer, c *events.Correlation) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "\nfleet rule: %s on more than %.0f%% of the active nodes (and on >= %d) is the fleet's:\n"+
		"  one fleet_degraded anomaly, no node remedy; it clears after %d fleet rounds in a row with no kind\n"+
		"  bad on a shared set and no shared heartbeat lapse; a held node verdict then opens only if its node\n"+
		"  still stands out (firing, latest sample bad), else it is dropped\n",
		strings.Join(c.Kinds, ", "), 100*c.Share, c.MinNodes, c.ClearAfter)
	for _, h := range c.Held {
		fmt.Fprintf(w, "  held: %s on %s since %s\n", h.Kind, h.Node, ago(h.Since))
	}
}

func printAnomalies(w io.Writer, as []events.Anomaly) {
	tw := table(w)
	fmt.Fprintln(tw, "KIND\tTARGET\tSEVERITY\tIMPACT\tSINCE\tSUMMARY")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d conns (%.0f%%)\t%s\t%s\n", a.Kind, a.Target, a.Severity,
			a.Impact.Connections, 100*a.Impact.Share, ago(a.ImpactStart), strings.TrimSpace(a.Summary))
	}
	_ = tw.Flush()
}
