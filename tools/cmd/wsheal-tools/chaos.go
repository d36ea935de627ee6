package main

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/tools/internal/chaos"
)

func chaosCmd() *cobra.Command {
	var (
		cfg    chaos.Config
		list   bool
		all    bool
		out    string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "chaos [scenario ...]",
		Short: "Inject named faults into a running stack under load and report how it healed",
		Long: `Run named fault scenarios against a running stack (wsheal dev) while a client
load (wsheal bench's engine) publishes and checks every delivery. For each
scenario: time to detect, to remediate and until every client is back and
resumed; messages lost and duplicated (must be 0/0); the peak reconnect rate
the surviving nodes saw; whether a human was paged; the incident and its
review. Everything is observed over NATS (wsheal.evt.> and control verbs).

Each scenario restores the stack to healthy before the next. The report goes
to --out as report.md, report.json and chart.svg (connections per node over
time with the faults, detections, remediations and recoveries marked).
The exit status is non-zero if any scenario failed its expectations.`,
		Example: `  wsheal chaos --list
  wsheal chaos crash hang
  wsheal chaos --all --clients 300 --rate 20
  wsheal dev --nats-cluster 3 --replicas 2 --demo-clients 0   # then, in another terminal:
  wsheal chaos --all --out results/today`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if list {
				return listScenarios(cmd, asJSON)
			}
			names := args
			if all {
				names = nil
				for _, s := range chaos.Scenarios() {
					names = append(names, s.Name)
				}
			}
			if len(names) == 0 {
				return fmt.Errorf("name scenarios or use --all (wsheal chaos --list shows them)")
			}
			scs, err := chaos.Lookup(names)
			if err != nil {
				return err
			}
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			obs, err := chaos.Observe(nc)
			if err != nil {
				return err
			}
			defer obs.Close()
			st := chaos.NewStack(nc, obs)
			if natsOpts.Timeout > 0 {
				st.Timeout = natsOpts.Timeout
			}
			cfg.Server = nc.ConnectedUrlRedacted()
			cfg.Progress = cmd.ErrOrStderr()
			// Which gateways there are: from their heartbeats (1 s apart).
			for deadline := time.Now().Add(5 * time.Second); len(obs.Gateways()) == 0 && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(1500 * time.Millisecond)
			rep := chaos.NewRunner(st, cfg).Run(cmd.Context(), scs)
			if out == "" {
				out = filepath.Join("results", "chaos-"+rep.Start.UTC().Format("20060102-150405"))
			}
			if err := rep.Write(out); err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(w, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprint(w, rep.Markdown())
				fmt.Fprintf(w, "\nreport: %s\n", filepath.Join(out, "report.md"))
			}
			if n := rep.Failed(); n > 0 {
				return fmt.Errorf("%d of %d scenarios failed their expectations (report in %s)", n, len(rep.Results), out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&list, "list", false, "list the scenarios and what each expects")
	f.BoolVar(&all, "all", false, "run every scenario, in catalogue order")
	f.StringSliceVar(&cfg.URLs, "url", nil, "gateway WebSocket URLs for the load (default: the URLs in the gateways' heartbeats)")
	f.IntVar(&cfg.Clients, "clients", chaos.DefaultClients, "load: subscriber connections")
	f.Float64Var(&cfg.Rate, "rate", chaos.DefaultRate, "load: publishes per second over all channels")
	f.IntVar(&cfg.Channels, "channels", chaos.DefaultChannels, "load: channels")
	f.IntVar(&cfg.Stalls, "stalls", chaos.DefaultStalls, "least 6.5 s stall cycles of the slowdown scenario (fewer: a shorter run; it goes on until fleet_degraded has been open 10 s, 18 cycles at most)")
	f.StringVar(&out, "out", "", "report directory (default results/chaos-<time>/)")
	f.BoolVar(&asJSON, "json", false, "print the report (or --list) as JSON")
	return cmd
}

func listScenarios(cmd *cobra.Command, asJSON bool) error {
	type row struct{ Name, Title, Expect string }
	var rows []row
	for _, s := range chaos.Scenarios() {
		rows = append(rows, row{s.Name, s.Title, s.Expect})
	}
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), rows)
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tFAULT\tEXPECTED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Title, r.Expect)
	}
	return tw.Flush()
}
