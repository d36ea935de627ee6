package incident

import (
	"fmt"
	"slices"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/policy"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Rules are what decide needs besides the record.
type Rules struct {
	Policy policy.Policy
	// Sinks are the configured sinks; others named by the policy are skipped.
	Sinks []string
	// ReviewDelay lets late remediation events reach the record before
	// the review is written.
	ReviewDelay time.Duration
	// Silences in force (the engine's cache).
	Silences []events.Silence
}

// decide applies the paging policy to the record at now: page, escalate,
// repeat, tell paged sinks of the resolution, schedule the review and the
// summary. It reports whether it changed the record.
func (r *Record) decide(rules *Rules, now time.Time) bool {
	changed := false
	if r.State == events.IncidentResolved {
		return r.decideResolved(rules, now)
	}
	if !r.Paged && r.Track.PageReason == "" {
		if reason := r.autoPageReason(rules.Policy, now); reason != "" {
			r.Track.PageReason = reason
			changed = true
		}
	}
	if !r.Paged && r.Track.PageReason != "" {
		return r.page(rules, now) || changed
	}
	if r.Paged && r.AckedAt.IsZero() {
		changed = r.escalate(rules, now) || changed
	}
	return changed
}

func (r *Record) autoPageReason(p policy.Policy, now time.Time) string {
	switch {
	case p.PagesAtOnce(r.Severity):
		return fmt.Sprintf("severity %s pages at once", r.Severity)
	case r.State != events.IncidentMitigated && !r.Track.HealDeadline.IsZero() && now.After(r.Track.HealDeadline):
		return "remediation missed its deadline " + r.Track.HealDeadline.Format(time.RFC3339)
	case p.UnhealedAfter > 0 && now.Sub(r.OpenedAt) >= p.UnhealedAfter:
		return fmt.Sprintf("not resolved within %v", p.UnhealedAfter)
	}
	return ""
}

// page sends level 1, unless a silence covers the incident.
func (r *Record) page(rules *Rules, now time.Time) bool {
	if s := policy.Silenced(rules.Silences, r.Targets(), now); s != nil {
		if r.Track.Suppressed == s.ID {
			return false
		}
		r.Track.Suppressed = s.ID
		r.note(events.TimelineEntry{Time: now, Kind: "notification", Ref: s.ID,
			Text: "page suppressed by silence " + s.ID + ": " + r.Track.PageReason})
		r.Track.Notices = append(r.Track.Notices, events.Notification{IncidentID: r.ID, Sink: "all",
			Action: sink.ActionTrigger, Status: "suppressed", Error: "silence " + s.ID})
		r.Change = "suppressed"
		return true
	}
	lvl, ok := rules.Policy.Level(1)
	if !ok {
		return false
	}
	r.Paged = true
	r.Level = 1
	r.Track.Suppressed = ""
	text := "paging level 1: " + r.Track.PageReason
	if len(rules.usable(lvl.Sinks)) == 0 {
		text += " (no sink of level 1 is configured)"
	}
	r.note(events.TimelineEntry{Time: now, Kind: "notification", Text: text})
	r.queue(sink.ActionTrigger, rules.usable(lvl.Sinks), r.Track.PageReason, now)
	r.Track.PagedSinks = appendAll(r.Track.PagedSinks, rules.usable(lvl.Sinks))
	r.schedule(rules.Policy, lvl, now)
	r.Change = "paged"
	return true
}

// escalate moves an unacknowledged page to the next level when its
// timeout passed, or repeats it when the repeat interval passed.
func (r *Record) escalate(rules *Rules, now time.Time) bool {
	t := &r.Track
	if !t.NextLevelAt.IsZero() && !now.Before(t.NextLevelAt) {
		lvl, ok := rules.Policy.Level(r.Level + 1)
		if !ok {
			t.NextLevelAt = time.Time{}
			return true
		}
		r.Level++
		reason := fmt.Sprintf("not acknowledged within %v", rules.Policy.Levels[r.Level-2].Timeout)
		r.note(events.TimelineEntry{Time: now, Kind: "notification", Text: fmt.Sprintf("escalated to level %d: %s", r.Level, reason)})
		r.queue(sink.ActionEscalate, rules.usable(lvl.Sinks), reason, now)
		t.PagedSinks = appendAll(t.PagedSinks, rules.usable(lvl.Sinks))
		r.schedule(rules.Policy, lvl, now)
		r.Change = "escalated"
		return true
	}
	if !t.NextRepeatAt.IsZero() && !now.Before(t.NextRepeatAt) {
		lvl, _ := rules.Policy.Level(r.Level)
		r.queue(sink.ActionRepeat, rules.usable(lvl.Sinks), "still not acknowledged", now)
		t.NextRepeatAt = now.Add(rules.Policy.Repeat)
		r.Change = "repeated"
		return true
	}
	return false
}

func (r *Record) schedule(p policy.Policy, lvl policy.Level, now time.Time) {
	r.Track.NextLevelAt = time.Time{}
	if lvl.Timeout > 0 {
		r.Track.NextLevelAt = now.Add(lvl.Timeout)
	}
	r.Track.NextRepeatAt = time.Time{}
	if p.Repeat > 0 {
		r.Track.NextRepeatAt = now.Add(p.Repeat)
	}
}

// decideResolved tells paged sinks, then, after the review delay, marks
// the review due and summarises an incident that never paged.
func (r *Record) decideResolved(rules *Rules, now time.Time) bool {
	t := &r.Track
	changed := false
	t.NextLevelAt, t.NextRepeatAt = time.Time{}, time.Time{}
	if r.Paged && !t.ResolveSent {
		r.queue(sink.ActionResolve, t.PagedSinks, "resolved", now)
		t.ResolveSent = true
		changed = true
	}
	if t.ReviewAt.IsZero() {
		t.ReviewAt = now.Add(rules.ReviewDelay)
		changed = true
	}
	if !t.ReviewDone && !t.ReviewDue && !now.Before(t.ReviewAt) {
		t.ReviewDue = true
		if !r.Paged {
			r.queue(sink.ActionSummary, rules.usable(rules.Policy.SummarySinks), "healed without a page", now)
		}
		changed = true
	}
	return changed
}

// queue adds a message per sink to the pending list, with a
// deterministic id (incident, change sequence, action, sink).
func (r *Record) queue(action string, sinks []string, reason string, now time.Time) {
	for _, s := range sinks {
		r.Track.Pending = append(r.Track.Pending, sink.Message{
			ID:   fmt.Sprintf("%s.%d.%s.%s", r.ID, r.Track.Seq, action, s),
			Sink: s, Action: action, Level: r.Level, Reason: reason, At: now.UTC(),
		})
	}
}

// usable keeps the configured sinks.
func (rules *Rules) usable(sinks []string) []string {
	var out []string
	for _, s := range sinks {
		if slices.Contains(rules.Sinks, s) {
			out = append(out, s)
		}
	}
	return out
}

func appendAll(dst, src []string) []string {
	for _, s := range src {
		dst = appendNew(dst, s)
	}
	return dst
}
