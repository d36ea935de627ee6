package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/review"
)

func operator() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cli"
}

func incidentsCmd() *cobra.Command {
	var req events.IncidentListRequest
	cmd := &cobra.Command{
		Use:     "incidents",
		GroupID: "ops",
		Short:   "List incidents; show, ack, resolve, note and silence them",
		Example: `  wsheal incidents
  wsheal incidents --state open
  wsheal incidents show inc-20261121-0007
  wsheal incidents ack inc-20261121-0007 --note "looking"
  wsheal incidents silence --node 'gw-*' --for 2h --comment "kernel upgrade"`,
		Args: cobra.NoArgs,
	}
	asJSON := jsonFlag(cmd)
	cmd.Flags().StringVar(&req.State, "state", "", "open, triggered, acknowledged, mitigated or resolved")
	cmd.Flags().IntVar(&req.Limit, "limit", 50, "at most this many")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		l, err := ask(cmd.Context(), events.CtlIncidentList, req)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), l)
		}
		if len(l.Incidents) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "no incidents")
			return nil
		}
		tw := table(cmd.OutOrStdout())
		fmt.Fprintln(tw, "ID\tSEV\tSTATE\tOPENED\tPAGED\tNODES\tTITLE")
		for _, i := range l.Incidents {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%v\t%s\n", i.ID, i.Severity, i.State, ago(i.OpenedAt), i.Paged, i.Nodes, i.Title)
		}
		return tw.Flush()
	}
	cmd.AddCommand(incidentShowCmd(), incidentActionCmd(events.CtlIncidentAck, "Acknowledge an incident: stops its escalation"),
		incidentActionCmd(events.CtlIncidentResolve, "Resolve an incident by hand"), incidentNoteCmd(), silenceCmd())
	return cmd
}

func incidentShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show <incident>",
		Short:   "An incident with its timeline",
		Example: `  wsheal incidents show inc-20261121-0007`,
		Args:    cobra.ExactArgs(1),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		i, err := ask(cmd.Context(), events.CtlIncidentGet, events.IncidentRequest{Incident: args[0]})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), i)
		}
		printIncident(cmd.OutOrStdout(), i)
		return nil
	}
	return cmd
}

func printIncident(w io.Writer, i events.Incident) {
	fmt.Fprintf(w, "%s  %s  %s  %s\n", i.ID, i.Severity, i.State, i.Title)
	fmt.Fprintf(w, "kinds %v  nodes %v  impact %d conns (%.0f%%)  paged %v  level %d\n",
		i.Kinds, i.Nodes, i.Impact.Connections, 100*i.Impact.Share, i.Paged, i.Level)
	fmt.Fprintf(w, "impact start %s  opened %s", stamp(i.ImpactStart), stamp(i.OpenedAt))
	if !i.AckedAt.IsZero() {
		fmt.Fprintf(w, "  acked %s", stamp(i.AckedAt))
	}
	if !i.ResolvedAt.IsZero() {
		fmt.Fprintf(w, "  resolved %s", stamp(i.ResolvedAt))
	}
	fmt.Fprintln(w, "\n\ntimeline:")
	for _, e := range i.Timeline {
		author := ""
		if e.Author != "" {
			author = " (" + e.Author + ")"
		}
		fmt.Fprintf(w, "  %s  %-12s %s%s\n", e.Time.Local().Format("15:04:05.000"), e.Kind, e.Text, author)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("15:04:05")
}

func incidentActionCmd(ep events.Endpoint[events.IncidentCommand, events.Incident], short string) *cobra.Command {
	var c events.IncidentCommand
	verb := ep.Verb
	cmd := &cobra.Command{
		Use:     verb + " <incident>",
		Short:   short,
		Example: "  wsheal incidents " + verb + " inc-20261121-0007 --note 'on it'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.ID, c.Incident = commandID(c.ID), args[0]
			if c.By == "" {
				c.By = operator()
			}
			i, err := ask(cmd.Context(), ep, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is %s\n", i.ID, i.State)
			return nil
		},
	}
	cmd.Flags().StringVar(&c.Note, "note", "", "a note for the timeline")
	cmd.Flags().StringVar(&c.By, "by", "", "who (default $USER)")
	cmd.Flags().StringVar(&c.ID, "id", "", "command id (default: a new one)")
	return cmd
}

func incidentNoteCmd() *cobra.Command {
	var c events.NoteCommand
	var falsePositive bool
	cmd := &cobra.Command{
		Use:   "note <incident> <text>",
		Short: "Add a note to an incident's timeline (--false-positive: the detector should not have fired)",
		Long: `Add a note to an incident's timeline. With --false-positive the note marks
the incident a false positive (its text starts with "` + review.FalsePositiveMark + `"), and the
post-incident review's "what to tune" section names the detector setting to
raise. Mark it before the review is written (WSHEAL_NOTIFIER_REVIEW_DELAY
after the incident resolves). Nothing changes by itself.`,
		Example: `  wsheal incidents note inc-20261121-0007 "rolled back the config"
  wsheal incidents note inc-20261121-0007 --false-positive "a deploy, not a sick node"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := args[1]
			if falsePositive {
				text = review.FalsePositiveMark + " " + text
			}
			c = events.NoteCommand{ID: commandID(""), Incident: args[0], Text: text, Author: operator()}
			_, err := ask(cmd.Context(), events.CtlIncidentNote, c)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "noted")
			return nil
		},
	}
	cmd.Flags().BoolVar(&falsePositive, "false-positive", false, "mark the incident a false positive: the review suggests the detector setting to raise")
	return cmd
}

func silenceCmd() *cobra.Command {
	var (
		c      events.SilenceCommand
		dur    time.Duration
		expire string
		list   bool
	)
	cmd := &cobra.Command{
		Use:   "silence",
		Short: "Mute pages for matching incidents during a maintenance window; list or expire silences",
		Example: `  wsheal incidents silence --node gw-2 --for 1h --comment "hardware swap"
  wsheal incidents silence --list
  wsheal incidents silence --expire s-123`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case list:
				c = events.SilenceCommand{Op: events.SilenceList}
			case expire != "":
				c = events.SilenceCommand{Op: events.SilenceExpire, ID: expire, By: operator()}
			default:
				c.Op, c.ID, c.DurationMS, c.By = events.SilenceAdd, commandID(c.ID), dur.Milliseconds(), operator()
			}
			rep, err := ask(cmd.Context(), events.CtlSilence, c)
			if err != nil {
				return err
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "ID\tNODE\tKIND\tUNTIL\tBY\tCOMMENT")
			for _, s := range rep.Silences {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Node, s.Kind, s.EndsAt.Local().Format("Jan 2 15:04"), s.CreatedBy, s.Comment)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Node, "node", "", "node pattern (shell glob, e.g. gw-*)")
	f.StringVar(&c.Kind, "kind", "", "anomaly kind pattern")
	f.DurationVar(&dur, "for", time.Hour, "how long")
	f.StringVar(&c.Comment, "comment", "", "why")
	f.StringVar(&c.ID, "id", "", "silence id (default: a new one)")
	f.StringVar(&expire, "expire", "", "expire the silence with this id")
	f.BoolVar(&list, "list", false, "list the silences in force")
	return cmd
}

func reviewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "review <incident>",
		GroupID: "ops",
		Short:   "The post-incident review of a resolved incident (Markdown; --json for the record)",
		Example: `  wsheal review inc-20261121-0007
  wsheal review inc-20261121-0007 --json | jq .mttr_ms`,
		Args: cobra.ExactArgs(1),
	}
	asJSON := jsonFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := ask(cmd.Context(), events.CtlIncidentReview, events.IncidentRequest{Incident: args[0]})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(cmd.OutOrStdout(), r)
		}
		fmt.Fprintln(cmd.OutOrStdout(), r.Markdown)
		return nil
	}
	return cmd
}
