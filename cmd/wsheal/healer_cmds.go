package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/healer"
	"github.com/wsheal/wsheal/services/healer/record"
)

func healerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "healer",
		GroupID: "ops",
		Short:   "The healer's switches: status, pause, resume, dry-run, hands-off, policies, actions",
		Long: `Steer the healer. The switches are shared by every healer replica and kept in
JetStream, so they survive restarts.

  pause / resume     stop every action / act again
  dry-run on|off     decide and publish what would be done, do nothing
  hands-off <node>   never act on this node (--clear lifts it, and a quarantine)`,
		Example: `  wsheal healer
  wsheal healer pause --reason "maintenance"
  wsheal healer dry-run on
  wsheal healer hands-off gw-2 --reason "debugging"
  wsheal healer hands-off gw-2 --clear
  wsheal healer policies
  wsheal healer actions --target gw-2
  wsheal healer record --kind node_down`,
		Args: cobra.NoArgs,
		RunE: healerStatus,
	}
	cmd.AddCommand(healerPauseCmd(), healerResumeCmd(), healerDryRunCmd(), healerHandsOffCmd(), healerPoliciesCmd(), healerActionsCmd(), healerRecordCmd())
	return cmd
}

func healerStatus(cmd *cobra.Command, _ []string) error {
	s, err := ask(cmd.Context(), events.CtlHealerStatus, events.Empty{})
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "healer %s: %s (paused %v, dry-run %v)  policies %d from %s  action budget %.1f\n",
		s.Instance, s.State, s.Paused, s.DryRun, s.Policies, s.PolicyFile, s.Tokens)
	printHandsOff(w, s.HandsOff)
	if len(s.Quarantined) > 0 {
		fmt.Fprintf(w, "quarantined: %s\n", strings.Join(s.Quarantined, ", "))
	}
	if len(s.InFlight) > 0 {
		fmt.Fprintf(w, "in flight: %s\n", strings.Join(s.InFlight, ", "))
	}
	return nil
}

func printHandsOff(w io.Writer, hs []events.HandsOff) {
	for _, h := range hs {
		fmt.Fprintf(w, "hands-off %s since %s by %s: %s\n", h.Node, ago(h.Since), h.By, h.Reason)
	}
}

func printSwitches(cmd *cobra.Command, s events.HealerSwitches) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "paused %v, dry-run %v\n", s.Paused, s.DryRun)
	printHandsOff(w, s.HandsOff)
}

func healerPauseCmd() *cobra.Command {
	var c events.HealerPauseCommand
	cmd := &cobra.Command{
		Use: "pause", Short: "Stop every healer action until resume", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.ID, c.By = commandID(c.ID), operator()
			s, err := ask(cmd.Context(), events.CtlHealerPause, c)
			if err != nil {
				return err
			}
			printSwitches(cmd, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&c.Reason, "reason", "", "why")
	return cmd
}

func healerResumeCmd() *cobra.Command {
	return &cobra.Command{
		Use: "resume", Short: "Let the healer act again", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := events.HealerResumeCommand{ID: commandID(""), By: operator()}
			s, err := ask(cmd.Context(), events.CtlHealerResume, c)
			if err != nil {
				return err
			}
			printSwitches(cmd, s)
			return nil
		},
	}
}

func healerDryRunCmd() *cobra.Command {
	return &cobra.Command{
		Use: "dry-run on|off", Short: "Shadow mode: decide and publish, act never", Args: cobra.ExactArgs(1),
		ValidArgs: []string{"on", "off"},
		RunE: func(cmd *cobra.Command, args []string) error {
			on, err := onOff(args[0])
			if err != nil {
				return err
			}
			s, err := ask(cmd.Context(), events.CtlHealerDryRun, events.HealerDryRunCommand{ID: commandID(""), On: &on, By: operator()})
			if err != nil {
				return err
			}
			printSwitches(cmd, s)
			return nil
		},
	}
}

func onOff(s string) (bool, error) {
	switch s {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q: say on or off", s)
}

func healerHandsOffCmd() *cobra.Command {
	var (
		reason string
		clear  bool
	)
	cmd := &cobra.Command{
		Use: "hands-off <node>", Short: "Lock a node against healer actions (--clear lifts the lock and any quarantine)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			on := !clear
			c := events.HandsOffCommand{ID: commandID(""), Node: args[0], On: &on, Reason: reason, By: operator()}
			s, err := ask(cmd.Context(), events.CtlHealerHandsOff, c)
			if err != nil {
				return err
			}
			printSwitches(cmd, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	cmd.Flags().BoolVar(&clear, "clear", false, "lift the lock")
	return cmd
}

func healerPoliciesCmd() *cobra.Command {
	return &cobra.Command{
		Use: "policies", Short: "Print the healer's effective policies (YAML: edit and pass as WSHEAL_HEALER_POLICIES)",
		Long: `Print the policies of the running healer. With no healer answering, print
the policies a healer would load here: the file named by
WSHEAL_HEALER_POLICIES, or the built-in defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := ask(cmd.Context(), events.CtlHealerPolicies, events.Empty{})
			if err != nil {
				local, lerr := localPolicies()
				if lerr != nil {
					return fmt.Errorf("%w; and the local policies: %w", err, lerr)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "no healer answered (%v): printing the local policies\n", err)
				p = local
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# source: %s\n%s", p.Source, p.YAML)
			return nil
		},
	}
}

func healerActionsCmd() *cobra.Command {
	var req events.HealerActionsRequest
	cmd := &cobra.Command{Use: "actions", Short: "Recent remediation decisions, newest first", Args: cobra.NoArgs}
	asJSON := jsonFlag(cmd)
	cmd.Flags().IntVar(&req.Limit, "limit", 30, "at most this many")
	cmd.Flags().StringVar(&req.Target, "target", "", "only this node")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		a, err := ask(cmd.Context(), events.CtlHealerActions, req)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), a)
		}
		tw := table(cmd.OutOrStdout())
		fmt.Fprintln(tw, "ACTION\tTARGET\tPHASE\tATTEMPT\tREASON\tANOMALY\tDETAIL")
		for _, r := range a.Actions {
			phase := r.Phase
			if r.DryRun {
				phase += " (dry-run)"
			}
			detail := r.Detail
			if r.Choice != nil {
				detail += " [" + r.Choice.Rule + ": " + r.Choice.Why + "]"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Action, r.Target, phase, r.Attempt, r.Reason, r.AnomalyID, detail)
		}
		return tw.Flush()
	}
	return cmd
}

// localPolicies are what a healer started here would load.
func localPolicies() (events.HealerPolicies, error) {
	path := os.Getenv("WSHEAL_HEALER_POLICIES")
	b, err := healer.EffectivePolicies(path)
	if err != nil {
		return events.HealerPolicies{}, err
	}
	if path == "" {
		path = "built-in"
	}
	return events.HealerPolicies{Source: path, YAML: string(b)}, nil
}

func healerRecordCmd() *cobra.Command {
	var req events.HealerRecordRequest
	cmd := &cobra.Command{
		Use:   "record",
		Short: "What each remedy did, per anomaly kind and target class: the record that orders the ladders",
		Long: `Print the healer's record, shared by every replica and kept in JetStream:
per (anomaly kind, target class, remedy) the attempts, successes, the
Laplace-smoothed success rate (successes+1)/(attempts+2) the healer orders
a ladder by, failures in a row (a remedy is demoted after
WSHEAL_HEALER_DEMOTE_AFTER), failures by reason, the median time to verify
a success, the time failed attempts took, clients moved and pages.`,
		Args: cobra.NoArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&req.Kind, "kind", "", "only this anomaly kind")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		rec, err := ask(cmd.Context(), events.CtlHealerRecord, req)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), rec)
		}
		return printRecord(cmd.OutOrStdout(), rec.Records)
	}
	return cmd
}

func printRecord(w io.Writer, rs []events.RemedyRecord) error {
	tw := table(w)
	fmt.Fprintln(tw, "KIND\tCLASS\tREMEDY\tATTEMPTS\tOK\tSCORE\tIN A ROW\tFAILURES\tMEDIAN VERIFY\tWASTED\tMOVED\tPAGES\tLAST")
	for _, r := range rs {
		var fails []string
		for reason, n := range r.Failures {
			fails = append(fails, fmt.Sprintf("%s=%d", reason, n))
		}
		sort.Strings(fails)
		last := make([]byte, 0, len(r.Last))
		for _, o := range r.Last {
			last = append(last, map[bool]byte{true: '+', false: 'x'}[o.OK])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.2f\t%d\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Kind, r.Class, r.Remedy, r.Attempts,
			r.Successes, record.Score(r), r.Streak, strings.Join(fails, ","), record.MedianVerify(r),
			time.Duration(r.WastedMS)*time.Millisecond, r.ClientsMoved, r.Pages, last)
	}
	return tw.Flush()
}
