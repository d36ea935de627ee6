package review

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// FalsePositiveMark starts the text of a timeline note by which an
// operator marks an incident a false positive (`wsheal incidents note
// --false-positive`): the review then suggests the detector setting to
// raise.
const FalsePositiveMark = "false positive:"

// SlowDetection is the detection delay (MTTD) above which the review
// suggests detecting sooner, while fewer than MinUsual past incidents of
// the kind give the fleet's usual delay.
const SlowDetection = 5 * time.Second

// threshold names, per anomaly kind, the monitor setting that decides
// when its detector fires: raise it when the kind fires on what needed
// nothing.
var threshold = map[string]string{
	events.KindNodeDown:        "WSHEAL_MONITOR_DOWN_MISSES",
	events.KindNodeHung:        "WSHEAL_MONITOR_DOWN_MISSES",
	events.KindRTTDegraded:     "WSHEAL_MONITOR_RTT_FACTOR",
	events.KindStaleSpike:      "WSHEAL_MONITOR_STALE_SHARE",
	events.KindSlowConsumers:   "WSHEAL_MONITOR_SLOW_ENTER",
	events.KindErrorRate:       "WSHEAL_MONITOR_ERROR_RATE",
	events.KindSaturation:      "WSHEAL_MONITOR_SATURATION_ENTER",
	events.KindReconnectStorm:  "WSHEAL_MONITOR_STORM_ACCEPT_RATE",
	events.KindImbalance:       "WSHEAL_MONITOR_IMBALANCE_RATIO",
	events.KindFlapping:        "WSHEAL_MONITOR_FLAP_CHANGES",
	events.KindFleetDegraded:   "WSHEAL_MONITOR_FLEET_SHARE",
	events.KindDataPlaneErrors: "WSHEAL_MONITOR_DP_ERROR_SHARE",
	events.KindStoreFull:       "WSHEAL_MONITOR_DP_STORE_ENTER",
	events.KindConsumerLimit:   "WSHEAL_MONITOR_DP_LIMIT_ENTER",
	events.KindNotRecovered:    "WSHEAL_MONITOR_DP_NOT_RECOVERED_SHARE",
	events.KindFleetSaturated:  "WSHEAL_MONITOR_FLEET_SATURATED",
	events.KindFleetUnderused:  "WSHEAL_MONITOR_FLEET_UNDERUSED",
}

// held names, per reason a remedy was held back, the healer setting that
// held it.
var held = map[string]string{
	events.SkipCooldown: "WSHEAL_HEALER_BACKOFF_BASE / WSHEAL_HEALER_BACKOFF_MAX (per target and action backoff)",
	events.SkipBudget:   "WSHEAL_HEALER_BUDGET_RATE / WSHEAL_HEALER_BUDGET_BURST (the global action budget)",
	events.SkipBlast:    "WSHEAL_HEALER_BLAST_SHARE (share of the fleet that may be out at once)",
	events.SkipRetryCap: "WSHEAL_HEALER_RETRY_CAP (failed verifications before escalating)",
	events.SkipNoPolicy: "WSHEAL_HEALER_POLICIES (no policy matched the anomaly's kind and severity)",
	events.SkipPanic:    "WSHEAL_HEALER_PANIC_SHARE (share of the fleet silent that stops every action)",
}

// Tune is the review's "what to tune" section, from what the incident
// shows: the remedy that worked and its rate in this incident, remedies
// that failed and the time they took, remedies held back by a safety
// setting, a slow detection, and a detector that fired on a false
// positive or on something that cleared with no remedy. Each line names
// the setting to change.
func Tune(in Input, r events.Review) []string {
	kinds := strings.Join(in.Incident.Kinds, ", ")
	var out []string
	var failed []waste
	tried, worked, start := 0, "", r.DetectedAt
	var workedAction events.ActionResult
	for _, a := range r.Actions {
		switch a.Result {
		case events.PhaseSucceeded:
			tried++
			if worked == "" && a.Action != events.ActionEscalate {
				worked, workedAction = fmt.Sprintf("%s on %s (attempt %d)", a.Action, a.Target, a.Attempt), a
			}
		case events.PhaseFailed:
			tried++
			failed = addWaste(failed, a, since(start, a.At))
		case events.PhaseSkipped:
			if s, ok := held[a.Reason]; ok {
				out = append(out, fmt.Sprintf("Held back: %s on %s was skipped (%s): setting %s.", a.Action, a.Target, a.Reason, s))
			}
		}
		if !a.At.IsZero() {
			start = a.At
		}
	}
	for _, w := range failed {
		out = append(out, fmt.Sprintf("Wasted time: %s on %s failed %s, about %v in all (last: %s).%s The healer's record keeps these failures "+
			"for %s: in a ladder with other remedies it is tried after them once it failed WSHEAL_HEALER_DEMOTE_AFTER times in a row "+
			"(`wsheal healer record --kind %s`); to stop trying it, remove its step from the policy in WSHEAL_HEALER_POLICIES "+
			"or give the policy another remedy.",
			w.action, w.target, times(w.n), w.took, w.last, quoteWaste(in, w.action, w.target), kinds, first(in.Incident.Kinds)))
	}
	if worked != "" {
		ok := 0
		for _, a := range r.Actions {
			if a.Result == events.PhaseSucceeded && a.Action != events.ActionEscalate {
				ok++
			}
		}
		out = append([]string{fmt.Sprintf("Remedy that worked: %s; %d of %d remedies tried here succeeded.%s "+
			"Its success rate across incidents orders the ladder: `wsheal healer record --kind %s`.",
			worked, ok, tried, quoteWorked(in, workedAction), first(in.Incident.Kinds))}, out...)
	}
	if l := slowLine(in, dur(r.MTTDMS)); l != "" {
		out = append(out, l)
	}
	if fp := falsePositive(r.Timeline); fp != "" {
		out = append(out, fmt.Sprintf("False positive (%s): raise %s so that %s fires only on what needs a remedy.", fp, settings(in.Incident.Kinds), kinds))
	} else if tried == 0 && !in.Human && !r.Paged && len(in.Incident.Kinds) > 0 {
		out = append(out, fmt.Sprintf("Cleared with no remedy: %s resolved by itself; if it recurs, raise %s or WSHEAL_MONITOR_FIRE_AFTER "+
			"(bad samples in a row before a node detector fires).", kinds, settings(in.Incident.Kinds)))
	}
	return out
}

// waste is the failures of one remedy on one target in an incident.
type waste struct {
	action, target, last string
	n                    int
	took                 time.Duration
}

func addWaste(ws []waste, a events.ActionResult, took time.Duration) []waste {
	for i := range ws {
		if ws[i].action == a.Action && ws[i].target == a.Target {
			ws[i].n, ws[i].took, ws[i].last = ws[i].n+1, ws[i].took+took, a.Reason
			return ws
		}
	}
	return append(ws, waste{action: a.Action, target: a.Target, last: a.Reason, n: 1, took: took})
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// slowLine is the slow detection line, or "": against the fleet's usual
// detection delay for the incident's kinds when MinUsual past incidents
// give one, else against SlowDetection.
func slowLine(in Input, mttd time.Duration) string {
	kinds := in.Incident.Kinds
	setting := "WSHEAL_MONITOR_FIRE_AFTER (bad samples in a row before a node detector fires)"
	if slices.Contains(kinds, events.KindNodeDown) || slices.Contains(kinds, events.KindNodeHung) {
		setting = "WSHEAL_MONITOR_DOWN_MISSES (missed beats before down)"
	}
	if usual, n := Usual(in.Past, in.Incident.ID, kinds); n >= MinUsual {
		if !slowAgainstUsual(mttd, usual) {
			return ""
		}
		return fmt.Sprintf("Slow detection: MTTD %v against the fleet's usual %v for %s (the median of %d past incidents); "+
			"lower %s to detect sooner, or look for what delayed this one.", mttd, usual, strings.Join(kinds, ", "), n, setting)
	}
	if mttd <= SlowDetection {
		return ""
	}
	return fmt.Sprintf("Slow detection: MTTD %v, above %v; lower %s to detect sooner.", mttd, SlowDetection, setting)
}

// falsePositive returns the text of the first note that marks the
// incident a false positive, or "".
func falsePositive(tl []events.TimelineEntry) string {
	for _, e := range tl {
		if rest, ok := strings.CutPrefix(strings.ToLower(e.Text), FalsePositiveMark); ok {
			return strings.TrimSpace(e.Text[len(e.Text)-len(rest):])
		}
	}
	return ""
}

// settings names the detector thresholds of kinds.
func settings(kinds []string) string {
	var out []string
	for _, k := range kinds {
		if s, ok := threshold[k]; ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "the detector's threshold"
	}
	return strings.Join(out, ", ")
}

func since(a, b time.Time) time.Duration {
	if a.IsZero() || b.Before(a) {
		return 0
	}
	return b.Sub(a).Round(time.Millisecond)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
