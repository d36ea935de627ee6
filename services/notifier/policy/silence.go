package policy

import (
	"path"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// Active reports whether s is in force at now.
func Active(s events.Silence, now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Target is one (kind, node) pair of an incident.
type Target struct {
	Kind string
	Node string
}

// Matches reports whether s covers t: each matcher empty or matching as a
// shell pattern (an invalid pattern matches nothing but itself).
func Matches(s events.Silence, t Target) bool {
	return match(s.Kind, t.Kind) && match(s.Node, t.Node)
}

func match(pattern, v string) bool {
	if pattern == "" || pattern == v {
		return true
	}
	ok, err := path.Match(pattern, v)
	return err == nil && ok
}

// Silenced returns the first silence in force at now that covers every
// target (nil if none, or if there are no targets).
func Silenced(silences []events.Silence, targets []Target, now time.Time) *events.Silence {
	if len(targets) == 0 {
		return nil
	}
	for i := range silences {
		s := silences[i]
		if !Active(s, now) {
			continue
		}
		all := true
		for _, t := range targets {
			if !Matches(s, t) {
				all = false
				break
			}
		}
		if all {
			return &s
		}
	}
	return nil
}
