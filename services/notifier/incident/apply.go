package incident

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/policy"
)

// Errors of incident changes.
var (
	ErrNotFound      = errors.New("incident: not found")
	ErrResolved      = errors.New("incident: already resolved")
	ErrNotMember     = errors.New("incident: anomaly not (yet) in the incident")
	ErrConflict      = errors.New("incident: too many concurrent updates")
	ErrNoAnomaly     = errors.New("incident: remediation names no anomaly")
	errNotAttachable = errors.New("incident: closed to new anomalies")
)

// newRecord opens an incident with id and key for anomaly a, seen at now.
func newRecord(id, key, group string, a *events.Anomaly, now time.Time) *Record {
	r := &Record{Incident: events.Incident{
		ID: id, Key: key, State: events.IncidentTriggered, Change: "opened",
		OpenedAt: now.UTC(), Severity: policy.SEV4,
	}}
	r.Track.Group = group
	r.Track.Members = map[string]*Member{}
	r.addAnomaly(a)
	r.Title = title(a, group)
	return r
}

func title(a *events.Anomaly, group string) string {
	if group == "availability" && a.Kind != events.KindFleetSilent {
		return "Gateway nodes unavailable"
	}
	if a.Summary != "" {
		return a.Summary
	}
	return a.Kind + " on " + a.Target
}

// addAnomaly adds an open anomaly; it reports whether anything changed.
func (r *Record) addAnomaly(a *events.Anomaly) bool {
	if m, ok := r.Track.Members[a.ID]; ok {
		if m.Open || a.State != events.AnomalyOpen || r.State == events.IncidentResolved {
			return false
		}
		m.Open = true // the same anomaly opened again
	} else {
		r.Track.Members[a.ID] = &Member{
			Kind: a.Kind, Target: a.Target, Nodes: slices.Clone(a.Nodes), Severity: a.Severity,
			Impact: a.Impact, Evidence: a.Evidence, Open: true, ImpactStart: a.ImpactStart.UTC(), DetectedAt: a.DetectedAt.UTC(),
		}
		r.Anomalies = append(r.Anomalies, a.ID)
	}
	r.note(events.TimelineEntry{Time: a.DetectedAt, Kind: "anomaly", Ref: a.ID,
		Text: fmt.Sprintf("%s opened on %s (%s): %s", a.Kind, a.Target, a.Severity, a.Summary)})
	if r.State == events.IncidentMitigated {
		r.setState(events.IncidentTriggered, a.DetectedAt)
		if !r.AckedAt.IsZero() {
			r.State = events.IncidentAcknowledged
		}
	}
	r.recompute()
	r.Change = "anomaly_opened"
	return true
}

// resolveAnomaly closes a member; when none is left open the incident
// resolves by itself at the last anomaly's resolution time.
func (r *Record) resolveAnomaly(a *events.Anomaly, at time.Time) (bool, error) {
	m, ok := r.Track.Members[a.ID]
	if !ok {
		return false, ErrNotMember
	}
	if !m.Open {
		return false, nil
	}
	m.Open = false
	m.ResolvedAt = a.ResolvedAt.UTC()
	if m.ResolvedAt.IsZero() {
		m.ResolvedAt = at.UTC()
	}
	r.note(events.TimelineEntry{Time: m.ResolvedAt, Kind: "anomaly", Ref: a.ID,
		Text: fmt.Sprintf("%s on %s resolved", a.Kind, a.Target)})
	r.recompute()
	r.Change = "anomaly_resolved"
	if len(r.Open) == 0 && r.State != events.IncidentResolved {
		r.ResolvedAt = r.lastResolution()
		r.setState(events.IncidentResolved, r.ResolvedAt)
		r.Track.HealDeadline = time.Time{}
	}
	return true, nil
}

func (r *Record) lastResolution() time.Time {
	var last time.Time
	for _, m := range r.Track.Members {
		if m.ResolvedAt.After(last) {
			last = m.ResolvedAt
		}
	}
	return last
}

// recompute derives open anomalies, kinds, nodes, impact and severity
// from the members. Severity never goes down during an incident.
func (r *Record) recompute() {
	r.Open = r.Open[:0]
	kinds, nodes := []string{}, []string{}
	perTarget := map[string]events.Impact{}
	worst := ""
	for _, id := range r.Anomalies {
		m := r.Track.Members[id]
		if m == nil {
			continue
		}
		if m.Open {
			r.Open = append(r.Open, id)
		}
		kinds = appendNew(kinds, m.Kind)
		for _, n := range m.Nodes {
			nodes = appendNew(nodes, n)
		}
		if len(m.Nodes) == 0 && m.Target != events.FleetTarget {
			nodes = appendNew(nodes, m.Target)
		}
		if p := perTarget[m.Target]; m.Impact.Share >= p.Share {
			perTarget[m.Target] = m.Impact
		}
		if events.SeverityRank(m.Severity) > events.SeverityRank(worst) {
			worst = m.Severity
		}
		r.trackTimes(m)
	}
	r.Kinds, r.Nodes = kinds, nodes
	r.Impact = aggregate(perTarget, len(nodes))
	sev := policy.Severity(policy.Signal{Impact: r.Impact, Kinds: kinds, Worst: worst})
	r.Severity = policy.Max(r.Severity, sev)
}

func (r *Record) trackTimes(m *Member) {
	start := m.ImpactStart
	if start.IsZero() {
		start = m.DetectedAt
	}
	if r.ImpactStart.IsZero() || start.Before(r.ImpactStart) {
		r.ImpactStart = start
	}
	if r.Track.DetectedAt.IsZero() || m.DetectedAt.Before(r.Track.DetectedAt) {
		r.Track.DetectedAt = m.DetectedAt
	}
	if m.DetectedAt.After(r.Track.LastAnomalyAt) {
		r.Track.LastAnomalyAt = m.DetectedAt
	}
}

func aggregate(perTarget map[string]events.Impact, nodes int) events.Impact {
	var out events.Impact
	for _, im := range perTarget {
		out.Connections += im.Connections
		out.Share += im.Share
		out.FleetNodes = max(out.FleetNodes, im.FleetNodes)
		out.Nodes = max(out.Nodes, im.Nodes)
	}
	out.Share = min(out.Share, 1)
	out.Nodes = max(out.Nodes, nodes)
	return out
}

func appendNew(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (r *Record) setState(state string, at time.Time) {
	if r.State == state {
		return
	}
	r.note(events.TimelineEntry{Time: at, Kind: "state", Text: r.State + " -> " + state})
	r.State = state
}

// addRemediation records one phase of a healer decision at (its event
// time). A success mitigates the incident; a failure, an exhausted retry
// budget or the healer's escalation asks for a page. pageAfter is the
// number of failed attempts that pages (0: failures alone never do).
func (r *Record) addRemediation(rem *events.Remediation, at time.Time, pageAfter int) bool {
	if r.seen("rem:" + rem.EventID()) {
		return false
	}
	r.note(events.TimelineEntry{Time: at, Kind: "remediation", Ref: rem.ID, Text: remText(rem)})
	r.Change = "remediation_" + rem.Phase
	if isResult(rem.Phase) {
		r.addAction(rem, at)
	}
	if r.State == events.IncidentResolved {
		return true
	}
	if rem.Phase == events.PhaseFailed && !rem.DryRun {
		r.Track.Failures++
	}
	if reason := r.pageReason(rem, pageAfter); reason != "" {
		if rem.Escalate || rem.Action == events.ActionEscalate {
			r.Track.Escalated = true
		}
		if r.Track.PageReason == "" {
			r.Track.PageReason = reason
		}
	}
	r.trackHealing(rem, at)
	return true
}

// addAction keeps a remediation result for the review.
func (r *Record) addAction(rem *events.Remediation, at time.Time) {
	r.Track.Actions = append(r.Track.Actions, events.ActionResult{
		Action: rem.Action, Target: rem.Target, Result: rem.Phase, Reason: firstNonEmpty(rem.Reason, rem.Detail),
		Attempt: rem.Attempt, At: at.UTC(),
	})
	if len(r.Track.Actions) > maxActions {
		r.Track.Actions = r.Track.Actions[len(r.Track.Actions)-maxActions:]
	}
}

// trackHealing follows the healer's deadline; a success mitigates.
func (r *Record) trackHealing(rem *events.Remediation, at time.Time) {
	switch rem.Phase {
	case events.PhaseStarted, events.PhaseRequested:
		if !rem.Deadline.IsZero() && !rem.DryRun {
			r.Track.HealDeadline = rem.Deadline.UTC()
		}
	case events.PhaseSucceeded:
		if rem.Action == events.ActionEscalate || rem.DryRun {
			return
		}
		r.Track.HealDeadline = time.Time{}
		if r.State == events.IncidentTriggered || r.State == events.IncidentAcknowledged {
			r.MitigatedAt = at.UTC()
			r.setState(events.IncidentMitigated, at)
		}
	}
}

func isResult(phase string) bool {
	return phase == events.PhaseSucceeded || phase == events.PhaseFailed || phase == events.PhaseSkipped
}

// pageReason says why a remediation event should page, or "".
func (r *Record) pageReason(rem *events.Remediation, pageAfter int) string {
	switch {
	case rem.Escalate || rem.Action == events.ActionEscalate:
		return "healer escalated: " + firstNonEmpty(rem.Detail, rem.Reason, rem.Kind)
	case rem.Phase == events.PhaseFailed && !rem.DryRun && pageAfter > 0 && r.Track.Failures >= pageAfter:
		return fmt.Sprintf("remediation %s on %s failed (attempt %d, %d failed so far)", rem.Action, rem.Target, rem.Attempt, r.Track.Failures)
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
