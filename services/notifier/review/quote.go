package review

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Classes of target, as the healer's record names them.
const (
	classNode  = "node"
	classFleet = "fleet"
)

func classOf(target string) string {
	if target == events.FleetTarget {
		return classFleet
	}
	return classNode
}

// recordOf finds the record of an action on a target among the records of
// the incident's kinds: same class of target, and the remedy is the action
// or one of its variants ("<action>-<select>"). With several, the one
// tried most.
func recordOf(in Input, action, target string) (events.RemedyRecord, bool) {
	var best events.RemedyRecord
	found := false
	for _, r := range in.Records {
		if !slices.Contains(in.Incident.Kinds, r.Kind) || r.Class != classOf(target) || r.Attempts == 0 {
			continue
		}
		if r.Remedy != action && !strings.HasPrefix(r.Remedy, action+"-") {
			continue
		}
		if !found || r.Attempts > best.Attempts {
			best, found = r, true
		}
	}
	return best, found
}

// quoteWorked quotes the record of the remedy that worked: its success
// rate and median time to verify across incidents.
func quoteWorked(in Input, a events.ActionResult) string {
	r, ok := recordOf(in, a.Action, a.Target)
	if !ok {
		return ""
	}
	s := fmt.Sprintf(" Its record (%s for %s on a %s): succeeded %d of %d attempts (%.0f%%)",
		r.Remedy, r.Kind, r.Class, r.Successes, r.Attempts, r.SuccessRate()*100)
	if m := r.MedianVerify(); m > 0 {
		s += fmt.Sprintf(", median time to verify %v", m)
	}
	return s + "."
}

// quoteWaste quotes the record of a remedy that failed here: its success
// rate, the time it lost to failures and its failures in a row.
func quoteWaste(in Input, action, target string) string {
	r, ok := recordOf(in, action, target)
	if !ok {
		return ""
	}
	s := fmt.Sprintf(" Its record (%s for %s on a %s): succeeded %d of %d attempts (%.0f%%), %v lost to failures, %d failed in a row",
		r.Remedy, r.Kind, r.Class, r.Successes, r.Attempts, r.SuccessRate()*100,
		(time.Duration(r.WastedMS) * time.Millisecond).Round(time.Millisecond), r.Streak)
	if m := r.MedianVerify(); m > 0 {
		s += fmt.Sprintf("; median time to verify when it worked %v", m)
	}
	return s + "."
}
