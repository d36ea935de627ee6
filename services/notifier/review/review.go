// Package review writes the post-incident review of a resolved incident:
// JSON (events.Review) and Markdown, with the durations computed from
// machine timestamps only, and a "what to tune" section (Tune) that names
// the settings to change:
//
//	MTTD = detected  - impact start (the monitor's first bad sample)
//	MTTA = acked     - detected
//	MTTM = mitigated - impact start
//	MTTR = resolved  - impact start
package review

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Input is what a review is written from.
type Input struct {
	Incident   events.Incident
	Actions    []events.ActionResult
	DetectedAt time.Time
	// Human is set when a person acknowledged or resolved the incident.
	Human bool
	// Detection says what the monitor saw, one line per anomaly.
	Detection []string
	// Records are the healer's records of the incident's anomaly kinds
	// (Records.For); the "what to tune" lines quote them when set.
	Records []events.RemedyRecord
	// Past are the detection delays of past incidents: a detection is
	// slow against the fleet's usual for the incident's kinds (Usual).
	Past []Past
}

// Build writes the review.
func Build(in Input) events.Review {
	inc := in.Incident
	start := inc.ImpactStart
	if start.IsZero() {
		start = in.DetectedAt
	}
	r := events.Review{
		IncidentID: inc.ID, Title: inc.Title, Severity: inc.Severity, Impact: inc.Impact,
		ImpactStart: start, DetectedAt: in.DetectedAt, AckedAt: inc.AckedAt,
		MitigatedAt: inc.MitigatedAt, ResolvedAt: inc.ResolvedAt,
		MTTDMS: ms(in.DetectedAt, start), MTTRMS: ms(inc.ResolvedAt, start),
		// A page calls a person: such an incident did not heal without one,
		// whatever happened next.
		AutoHealed: !in.Human && !inc.Paged, Paged: inc.Paged,
		Actions: nonNil(in.Actions), Timeline: nonNil(slices.Clone(inc.Timeline)),
	}
	// Events from different streams arrive out of order; the review reads by time.
	slices.SortStableFunc(r.Timeline, func(a, b events.TimelineEntry) int { return a.Time.Compare(b.Time) })
	r.DurationMS = r.MTTRMS
	if !inc.AckedAt.IsZero() {
		r.MTTAMS = ms(inc.AckedAt, in.DetectedAt)
	}
	if !inc.MitigatedAt.IsZero() {
		r.MTTMMS = ms(inc.MitigatedAt, start)
	}
	r.Summary = summary(r, inc)
	r.Tune = Tune(in, r)
	r.Markdown = Markdown(r, in.Detection...) + tuneSection(r.Tune)
	return r
}

func ms(a, b time.Time) int64 {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return a.Sub(b).Milliseconds()
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func summary(r events.Review, inc events.Incident) string {
	how := "was resolved by a person"
	if r.AutoHealed {
		how = "healed without a human"
	}
	page := "no one was paged"
	if r.Paged {
		page = fmt.Sprintf("paged up to level %d", inc.Level)
	}
	ok := 0
	for _, a := range r.Actions {
		if a.Result == events.PhaseSucceeded {
			ok++
		}
	}
	return fmt.Sprintf("%s %s: %s on %s %s after %v; %d of %d remediation results succeeded; %s.",
		inc.Severity, inc.ID, strings.Join(inc.Kinds, ", "), nodes(inc.Nodes), how,
		time.Duration(r.MTTRMS)*time.Millisecond, ok, len(r.Actions), page)
}

func nodes(n []string) string {
	if len(n) == 0 {
		return "the fleet"
	}
	return strings.Join(n, ", ")
}

// Markdown renders a review for people; detection lines, if given, say
// what the monitor saw.
func Markdown(r events.Review, detection ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Post-incident review: %s\n\n", r.Title)
	fmt.Fprintf(&b, "**Incident** %s · **Severity** %s · **Auto-healed** %s · **Paged** %s\n\n",
		r.IncidentID, r.Severity, yesNo(r.AutoHealed), yesNo(r.Paged))
	fmt.Fprintf(&b, "## Summary\n\n%s\n\n", r.Summary)
	fmt.Fprintf(&b, "## Impact\n\n- Connections: %d (%.1f%% of the fleet)\n- Nodes: %d of %d\n- Duration: %v\n\n",
		r.Impact.Connections, r.Impact.Share*100, r.Impact.Nodes, r.Impact.FleetNodes, dur(r.DurationMS))
	b.WriteString("## Detection\n\n")
	for _, d := range detection {
		b.WriteString("- " + d + "\n")
	}
	if len(detection) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("| measure | value | from | to |\n| --- | --- | --- | --- |\n")
	row(&b, "MTTD", r.MTTDMS, r.ImpactStart, r.DetectedAt)
	row(&b, "MTTA", r.MTTAMS, r.DetectedAt, r.AckedAt)
	row(&b, "MTTM", r.MTTMMS, r.ImpactStart, r.MitigatedAt)
	row(&b, "MTTR", r.MTTRMS, r.ImpactStart, r.ResolvedAt)
	b.WriteString("\n## Actions\n\n")
	if len(r.Actions) == 0 {
		b.WriteString("None.\n")
	}
	for _, a := range r.Actions {
		fmt.Fprintf(&b, "- %s %s on %s (attempt %d): **%s**%s\n", ts(a.At), a.Action, a.Target, a.Attempt, a.Result, suffix(a.Reason))
	}
	b.WriteString("\n## Timeline\n\n")
	for _, e := range r.Timeline {
		fmt.Fprintf(&b, "- %s [%s] %s%s\n", ts(e.Time), e.Kind, e.Text, author(e.Author))
	}
	return b.String()
}

func row(b *strings.Builder, name string, v int64, from, to time.Time) {
	if to.IsZero() {
		fmt.Fprintf(b, "| %s | – | | |\n", name)
		return
	}
	fmt.Fprintf(b, "| %s | %v | %s | %s |\n", name, dur(v), ts(from), ts(to))
}

func dur(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

func ts(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " — " + s
}

func author(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// tuneSection renders the "what to tune" lines.
func tuneSection(lines []string) string {
	var b strings.Builder
	b.WriteString("\n## What to tune\n\n")
	if len(lines) == 0 {
		b.WriteString("Nothing: detection and healing went by the settings.\n")
	}
	for _, l := range lines {
		b.WriteString("- " + l + "\n")
	}
	return b.String()
}
