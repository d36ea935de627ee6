// Package policy holds the notifier's paging rules: the severity table,
// which severities page at once, escalation levels with their timeouts,
// the repeat interval, and silences.
package policy

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// ErrBadPolicy is wrapped by the parsers.
var ErrBadPolicy = errors.New("policy: bad value")

// Level is one escalation level: the sinks paged when it is reached, and
// how long it waits for an acknowledgement before the next level (0 on
// the last level).
type Level struct {
	Sinks   []string
	Timeout time.Duration
}

// Policy is the paging policy.
type Policy struct {
	// Levels of escalation; level 1 is paged first.
	Levels []Level
	// PageAtOnce are the severities (SEV1..SEV4) paged when they open.
	PageAtOnce []string
	// PageAfterFailures pages once this many remediation attempts of an
	// incident failed (0: failures alone never page; the healer's
	// escalation, sent when its retries are exhausted, still does).
	PageAfterFailures int
	// UnhealedAfter pages an incident still not resolved this long after
	// it opened, mitigated or not (0: never for this reason).
	UnhealedAfter time.Duration
	// Repeat re-sends a page at the current level while it is not
	// acknowledged (0: never).
	Repeat time.Duration
	// SummarySinks receive the summary of an incident that never paged.
	SummarySinks []string
}

// PagesAtOnce reports whether sev pages when it opens.
func (p Policy) PagesAtOnce(sev string) bool { return slices.Contains(p.PageAtOnce, sev) }

// Level returns level n (1-based), or false past the last.
func (p Policy) Level(n int) (Level, bool) {
	if n < 1 || n > len(p.Levels) {
		return Level{}, false
	}
	return p.Levels[n-1], true
}

// ParseLevels reads "sink,sink@timeout;sink@timeout;sink": levels split by
// ';', sinks by ','; every level but the last needs a timeout. Every sink
// must be one of known.
func ParseLevels(s string, known []string) ([]Level, error) {
	var out []Level
	parts := strings.Split(s, ";")
	for i, part := range parts {
		part = strings.TrimSpace(part)
		sinks, timeout, hasTimeout := strings.Cut(part, "@")
		lvl := Level{}
		for name := range strings.SplitSeq(sinks, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(known, name) {
				return nil, fmt.Errorf("%w: level %d: sink %q, want one of %s", ErrBadPolicy, i+1, name, strings.Join(known, ", "))
			}
			lvl.Sinks = append(lvl.Sinks, name)
		}
		if hasTimeout {
			d, err := time.ParseDuration(strings.TrimSpace(timeout))
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: level %d: timeout %q", ErrBadPolicy, i+1, timeout)
			}
			lvl.Timeout = d
		} else if i < len(parts)-1 {
			return nil, fmt.Errorf("%w: level %d needs @timeout before the next level", ErrBadPolicy, i+1)
		}
		out = append(out, lvl)
	}
	return out, nil
}

// ParseSeverities reads "SEV1,SEV2" ("" is none).
func ParseSeverities(s string) ([]string, error) {
	var out []string
	for sev := range strings.SplitSeq(s, ",") {
		sev = strings.ToUpper(strings.TrimSpace(sev))
		if sev == "" {
			continue
		}
		if Rank(sev) == 0 {
			return nil, fmt.Errorf("%w: severity %q, want SEV1..SEV4", ErrBadPolicy, sev)
		}
		out = append(out, sev)
	}
	return out, nil
}

// ParseSinks reads "slack,webhook" ("" is none), each one of known.
func ParseSinks(s string, known []string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("%w: sink %q, want one of %s", ErrBadPolicy, name, strings.Join(known, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

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

// Incident severities, most severe first.
const (
	SEV1 = "SEV1"
	SEV2 = "SEV2"
	SEV3 = "SEV3"
	SEV4 = "SEV4"
)

// Rank orders severities: SEV1 4 .. SEV4 1, unknown 0.
func Rank(sev string) int {
	switch sev {
	case SEV1:
		return 4
	case SEV2:
		return 3
	case SEV3:
		return 2
	case SEV4:
		return 1
	}
	return 0
}

// Max returns the more severe of a and b.
func Max(a, b string) string {
	if Rank(b) > Rank(a) {
		return b
	}
	return a
}

// Signal is what the severity of an incident is computed from.
type Signal struct {
	Impact events.Impact // aggregated over the incident's anomalies
	Kinds  []string
	// Worst is the most severe anomaly severity (critical..info).
	Worst string
}

// Severity is the table, first match wins:
//
//	SEV1  connection share >= 50%, or nodes down/hung >= 50% of the fleet
//	SEV2  share >= 20%, or an anomaly of severity critical, or fleet_silent
//	SEV3  share >= 5%, or a node down, hung or flapping, or severity error
//	SEV4  anything else (warnings and info on a small share)
//
// Except for availability (node down or hung), the anomalies' own severity
// caps the result: info at most SEV4, warning SEV3, error SEV2. A large
// share of connections touched by an imbalance is not an outage.
func Severity(s Signal) string {
	sev := tableSeverity(s)
	avail := has(s.Kinds, events.KindNodeDown) || has(s.Kinds, events.KindNodeHung)
	if cap := ceiling(s.Worst); !avail && Rank(sev) > Rank(cap) {
		return cap
	}
	return sev
}

// ceiling is the most severe incident an anomaly severity may open.
func ceiling(worst string) string {
	switch worst {
	case events.SeverityCritical:
		return SEV1
	case events.SeverityError:
		return SEV2
	case events.SeverityWarning:
		return SEV3
	case events.SeverityInfo:
		return SEV4
	}
	return SEV1 // unknown: no cap
}

func tableSeverity(s Signal) string {
	share := s.Impact.Share
	nodeShare := 0.0
	if s.Impact.FleetNodes > 0 {
		nodeShare = float64(s.Impact.Nodes) / float64(s.Impact.FleetNodes)
	}
	avail := has(s.Kinds, events.KindNodeDown) || has(s.Kinds, events.KindNodeHung)
	switch {
	case share >= 0.5 || (avail && nodeShare >= 0.5):
		return SEV1
	case share >= 0.2 || s.Worst == events.SeverityCritical || has(s.Kinds, events.KindFleetSilent):
		return SEV2
	case share >= 0.05 || avail || has(s.Kinds, events.KindFlapping) || s.Worst == events.SeverityError:
		return SEV3
	}
	return SEV4
}

func has(kinds []string, k string) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}
