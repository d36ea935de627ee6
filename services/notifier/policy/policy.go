// Package policy holds the notifier's paging rules: the severity table,
// which severities page at once, escalation levels with their timeouts,
// the repeat interval, and silences.
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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
	// PageOnFailure pages on a failed or exhausted remediation.
	PageOnFailure bool
	// UnhealedAfter pages an incident neither mitigated nor resolved this
	// long after it opened (0: never for this reason).
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
