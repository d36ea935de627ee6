package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// addRemediation records one phase of a healer decision at (its event
// time). A success mitigates the incident; a failure, an exhausted retry
// budget or the healer's escalation asks for a page (when pageOnFailure).
func (r *Record) addRemediation(rem *events.Remediation, at time.Time, pageOnFailure bool) bool {
	if r.seen("rem:" + rem.EventID()) {
		return false
	}
	r.note(events.TimelineEntry{Time: at, Kind: "remediation", Ref: rem.ID, Text: remText(rem)})
	r.Change = "remediation_" + rem.Phase
	if isResult(rem.Phase) {
		r.Track.Actions = append(r.Track.Actions, events.ActionResult{
			Action: rem.Action, Target: rem.Target, Result: rem.Phase, Reason: firstNonEmpty(rem.Reason, rem.Detail),
			Attempt: rem.Attempt, At: at.UTC(),
		})
		if len(r.Track.Actions) > maxActions {
			r.Track.Actions = r.Track.Actions[len(r.Track.Actions)-maxActions:]
		}
	}
	if r.State == events.IncidentResolved {
		return true
	}
	if reason := pageReason(rem); reason != "" && (pageOnFailure || rem.Escalate) {
		if rem.Escalate || rem.Action == events.ActionEscalate {
			r.Track.Escalated = true
		}
		if r.Track.PageReason == "" {
			r.Track.PageReason = reason
		}
	}
	switch rem.Phase {
	case events.PhaseStarted, events.PhaseRequested:
		if !rem.Deadline.IsZero() && !rem.DryRun {
			r.Track.HealDeadline = rem.Deadline.UTC()
		}
	case events.PhaseSucceeded:
		if rem.Action == events.ActionEscalate || rem.DryRun {
			break
		}
		r.Track.HealDeadline = time.Time{}
		if r.State == events.IncidentTriggered || r.State == events.IncidentAcknowledged {
			r.MitigatedAt = at.UTC()
			r.setState(events.IncidentMitigated, at)
		}
	}
	return true
}

func isResult(phase string) bool {
	return phase == events.PhaseSucceeded || phase == events.PhaseFailed || phase == events.PhaseSkipped
}

// pageReason says why a remediation event should page, or "".
func pageReason(rem *events.Remediation) string {
	switch {
	case rem.Escalate || rem.Action == events.ActionEscalate:
		return "healer escalated: " + firstNonEmpty(rem.Detail, rem.Reason, rem.Kind)
	case rem.Phase == events.PhaseFailed && !rem.DryRun:
		return fmt.Sprintf("remediation %s on %s failed (attempt %d)", rem.Action, rem.Target, rem.Attempt)
	case rem.Phase == events.PhaseSkipped && (rem.Reason == events.SkipRetryCap || rem.Reason == events.SkipFlapping):
		return fmt.Sprintf("remediation exhausted: %s on %s skipped (%s)", rem.Action, rem.Target, rem.Reason)
	}
	return ""
}

func remText(rem *events.Remediation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s on %s", rem.Action, rem.Phase, rem.Target)
	if rem.Attempt > 0 {
		fmt.Fprintf(&b, " (attempt %d)", rem.Attempt)
	}
	if rem.DryRun {
		b.WriteString(" [dry-run]")
	}
	if s := firstNonEmpty(rem.Reason, rem.Detail); s != "" {
		b.WriteString(": " + s)
	}
	return b.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
