package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Scenario outcomes.
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusSkipped = "skipped" // the stack cannot stage it (said why)
)

// Check is one expectation of a scenario and whether it held.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Mark is a moment worth a line on the chart.
type Mark struct {
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"` // fault, detect, remediate, recovered, restore, note
	Label string    `json:"label"`
}

// ReviewSummary is the part of the notifier's review the report shows.
type ReviewSummary struct {
	MTTDMS     int64  `json:"mttd_ms"`
	MTTRMS     int64  `json:"mttr_ms"`
	AutoHealed bool   `json:"auto_healed"`
	Paged      bool   `json:"paged"`
	Actions    int    `json:"actions"`
	Summary    string `json:"summary,omitempty"`
	// Tune is the review's "what to tune" lines, each naming a setting.
	Tune []string `json:"tune,omitempty"`
}

// Result is one scenario's outcome. Durations are milliseconds from the
// fault; nil when the moment was never seen.
type Result struct {
	Name    string    `json:"name"`
	Title   string    `json:"title"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"` // why it failed or was skipped
	Target  string    `json:"target,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	FaultAt time.Time `json:"fault_at,omitzero"`

	DetectMS    *int64 `json:"time_to_detect_ms"`
	RemediateMS *int64 `json:"time_to_remediate_ms"`
	RecoverMS   *int64 `json:"time_to_recover_ms"`

	Clients    int    `json:"clients"`
	Sent       uint64 `json:"sent"`
	Expected   uint64 `json:"expected_deliveries"`
	Delivered  uint64 `json:"delivered"`
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	OutOfOrder uint64 `json:"out_of_order"`
	Reconnects uint64 `json:"reconnects"`

	// PeakAcceptRate is the highest accept rate (upgrades/s, from health
	// snapshots) of a node other than the target; PeakClientReconnects
	// the highest reconnects per second the load's clients made.
	PeakAcceptRate       float64 `json:"peak_accept_rate_per_s"`
	PeakAcceptNode       string  `json:"peak_accept_node,omitempty"`
	AcceptLimit          float64 `json:"accept_limit_per_s,omitempty"`
	PeakClientReconnects float64 `json:"peak_client_reconnects_per_s"`
	// PeakJoinRate is the fastest growth of a surviving node's
	// connections between two heartbeats, per second.
	PeakJoinRate float64 `json:"peak_join_rate_per_s"`
	PeakJoinNode string  `json:"peak_join_node,omitempty"`

	Paged    bool           `json:"paged"`
	Incident string         `json:"incident,omitempty"`
	Review   *ReviewSummary `json:"review,omitempty"`

	Checks []Check  `json:"checks"`
	Notes  []string `json:"notes,omitempty"`
	Marks  []Mark   `json:"marks,omitempty"`
}

// check books an expectation.
func (r *Result) check(name string, ok bool, format string, args ...any) bool {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	return ok
}

// note books a remark.
func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// mark books a chart marker.
func (r *Result) mark(kind, label string) {
	r.Marks = append(r.Marks, Mark{At: time.Now(), Kind: kind, Label: label})
}

// since is the time from the fault to t, in ms.
func (r *Result) since(t time.Time) *int64 {
	if t.IsZero() || r.FaultAt.IsZero() {
		return nil
	}
	v := t.Sub(r.FaultAt).Milliseconds()
	return &v
}

// settle sets the status from the checks.
func (r *Result) settle() {
	if r.Status == StatusSkipped {
		return
	}
	r.Status = StatusPassed
	for _, c := range r.Checks {
		if !c.OK {
			r.Status = StatusFailed
			if r.Reason == "" {
				r.Reason = c.Name + ": " + c.Detail
			}
		}
	}
	if r.Reason != "" {
		r.Status = StatusFailed
	}
}

// Report is a whole chaos run.
type Report struct {
	Server  string    `json:"server"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Clients int       `json:"clients"`
	Rate    float64   `json:"rate_per_s"`
	Results []*Result `json:"scenarios"`
	// Series are each gateway's connections over the run (for the chart).
	Series map[string][]Point `json:"-"`
}

// Failed counts the scenarios that failed their expectations.
func (rep *Report) Failed() int {
	n := 0
	for _, r := range rep.Results {
		if r.Status == StatusFailed {
			n++
		}
	}
	return n
}

// Write puts report.md, report.json and chart.svg in dir.
func (rep *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("chaos: report dir: %w", err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"report.json": append(js, '\n'),
		"report.md":   []byte(rep.Markdown()),
		"chart.svg":   []byte(Chart(rep)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("chaos: write %s: %w", name, err)
		}
	}
	return nil
}

// Markdown renders the report for people.
func (rep *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# wsheal chaos report\n\n")
	fmt.Fprintf(&b, "Stack %s, %s to %s (%s). Load: %d clients, %.0f publishes/s.\n\n",
		rep.Server, rep.Start.UTC().Format(time.RFC3339), rep.End.UTC().Format("15:04:05"),
		rep.End.Sub(rep.Start).Round(time.Second), rep.Clients, rep.Rate)
	fmt.Fprintf(&b, "%d scenarios: %d passed, %d failed, %d skipped.\n\n![connections per node](chart.svg)\n\n",
		len(rep.Results), rep.count(StatusPassed), rep.Failed(), rep.count(StatusSkipped))
	b.WriteString("| scenario | result | target | detect | remediate | clients back | lost | dup | peak accept/s (survivors) | peak client reconnects/s | paged | incident |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d | %d | %.1f | %.1f | %s | %s |\n",
			r.Name, r.Status, dash(r.Target), msText(r.DetectMS), msText(r.RemediateMS), msText(r.RecoverMS),
			r.Lost, r.Duplicated, r.PeakAcceptRate, r.PeakClientReconnects, yesNo(r.Paged), dash(r.Incident))
	}
	for _, r := range rep.Results {
		r.markdown(&b)
	}
	return b.String()
}

func (rep *Report) count(status string) int {
	n := 0
	for _, r := range rep.Results {
		if r.Status == status {
			n++
		}
	}
	return n
}

func (r *Result) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "\n## %s: %s — %s\n\n", r.Name, r.Title, r.Status)
	if r.Reason != "" {
		fmt.Fprintf(b, "**%s**\n\n", r.Reason)
	}
	fmt.Fprintf(b, "- target: %s; fault at %s\n", dash(r.Target), timeText(r.FaultAt))
	fmt.Fprintf(b, "- time to detect %s, to remediate %s, until every client was back and resumed %s\n",
		msText(r.DetectMS), msText(r.RemediateMS), msText(r.RecoverMS))
	fmt.Fprintf(b, "- load: %d clients, %d sent, %d of %d deliveries, lost %d, duplicated %d, out of order %d, reconnects %d\n",
		r.Clients, r.Sent, r.Delivered, r.Expected, r.Lost, r.Duplicated, r.OutOfOrder, r.Reconnects)
	fmt.Fprintf(b, "- peak accept rate on the survivors %.1f/s over a health interval (%s; limit %.0f/s), %.1f/s between two heartbeats (%s); peak client reconnects %.1f/s\n",
		r.PeakAcceptRate, dash(r.PeakAcceptNode), r.AcceptLimit, r.PeakJoinRate, dash(r.PeakJoinNode), r.PeakClientReconnects)
	fmt.Fprintf(b, "- paged: %s; incident: %s\n", yesNo(r.Paged), dash(r.Incident))
	if rv := r.Review; rv != nil {
		fmt.Fprintf(b, "- review: MTTD %s, MTTR %s, healed without a human %v, paged %v, %d actions. %s\n",
			time.Duration(rv.MTTDMS)*time.Millisecond, time.Duration(rv.MTTRMS)*time.Millisecond,
			rv.AutoHealed, rv.Paged, rv.Actions, rv.Summary)
		for _, l := range rv.Tune {
			fmt.Fprintf(b, "  - to tune: %s\n", l)
		}
	}
	b.WriteString("\n| check | ok | detail |\n| --- | --- | --- |\n")
	for _, c := range r.Checks {
		fmt.Fprintf(b, "| %s | %s | %s |\n", c.Name, yesNo(c.OK), strings.ReplaceAll(c.Detail, "|", "/"))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "\n> %s\n", n)
	}
}

func msText(v *int64) string {
	if v == nil {
		return "—"
	}
	return (time.Duration(*v) * time.Millisecond).Round(10 * time.Millisecond).String()
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05.000")
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
