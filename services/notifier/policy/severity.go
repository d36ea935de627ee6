package policy

import (
	"github.com/wsheal/wsheal/pkg/events"
)

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
func Severity(s Signal) string {
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
