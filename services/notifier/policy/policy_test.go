package policy

import (
	"errors"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

var known = []string{"webhook", "slack", "pagerduty", "alertmanager"}

func TestParseLevels(t *testing.T) {
	for _, tc := range []struct {
		in     string
		levels int
		ok     bool
	}{
		{"pagerduty", 1, true},
		{"pagerduty,slack@10m;webhook", 2, true},
		{"pagerduty@1m;slack@2m;webhook@3m", 3, true},
		{"pagerduty;slack", 0, false},
		{"pager", 0, false},
		{"pagerduty@soon;slack", 0, false},
		{"pagerduty@-1s;slack", 0, false},
		{"", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			lv, err := ParseLevels(tc.in, known)
			if (err == nil) != tc.ok || len(lv) != tc.levels || (err != nil && !errors.Is(err, ErrBadPolicy)) {
				t.Fatalf("ParseLevels = %+v, %v", lv, err)
			}
		})
	}
}

func TestParseSeveritiesAndSinks(t *testing.T) {
	if s, err := ParseSeverities("sev1, SEV2"); err != nil || len(s) != 2 || s[0] != SEV1 {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseSeverities("SEV5"); err == nil {
		t.Fatal("SEV5 accepted")
	}
	if s, err := ParseSinks("", known); err != nil || s != nil {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseSinks("email", known); err == nil {
		t.Fatal("email accepted")
	}
}

func TestSeverityTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  Signal
		want string
	}{
		{"half the connections", Signal{Impact: events.Impact{Share: 0.5}, Worst: events.SeverityCritical}, SEV1},
		{"half the connections, a warning", Signal{Impact: events.Impact{Share: 0.5}, Worst: events.SeverityWarning}, SEV3},
		{"imbalance over the whole fleet is info", Signal{Impact: events.Impact{Share: 0.9}, Kinds: []string{events.KindImbalance}, Worst: events.SeverityInfo}, SEV4},
		{"rtt error on most connections", Signal{Impact: events.Impact{Share: 0.6}, Kinds: []string{events.KindRTTDegraded}, Worst: events.SeverityError}, SEV2},
		{"half the nodes down at error", Signal{Impact: events.Impact{Nodes: 2, FleetNodes: 3, Share: 0.6}, Kinds: []string{events.KindNodeDown}, Worst: events.SeverityError}, SEV1},
		{"half the nodes down", Signal{Impact: events.Impact{Nodes: 2, FleetNodes: 4}, Kinds: []string{events.KindNodeDown}}, SEV1},
		{"a fifth", Signal{Impact: events.Impact{Share: 0.2}}, SEV2},
		{"critical", Signal{Worst: events.SeverityCritical}, SEV2},
		{"fleet silent", Signal{Kinds: []string{events.KindFleetSilent}}, SEV2},
		{"one node of many down", Signal{Impact: events.Impact{Nodes: 1, FleetNodes: 10, Share: 0.01}, Kinds: []string{events.KindNodeDown}}, SEV3},
		{"error", Signal{Worst: events.SeverityError}, SEV3},
		{"small rtt warning", Signal{Impact: events.Impact{Share: 0.01}, Kinds: []string{events.KindRTTDegraded}, Worst: events.SeverityWarning}, SEV4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Severity(tc.sig); got != tc.want {
				t.Fatalf("Severity = %s, want %s", got, tc.want)
			}
		})
	}
	if Max(SEV3, SEV1) != SEV1 || Max(SEV2, SEV4) != SEV2 {
		t.Fatal("Max")
	}
}

func TestSilenced(t *testing.T) {
	now := time.Unix(1000, 0)
	maint := events.Silence{ID: "maint", Node: "gw-*", StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)}
	rttOnly := events.Silence{ID: "rtt", Kind: events.KindRTTDegraded, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)}
	expired := events.Silence{ID: "old", StartsAt: now.Add(-2 * time.Hour), EndsAt: now.Add(-time.Hour)}
	for _, tc := range []struct {
		name     string
		silences []events.Silence
		targets  []Target
		want     string
	}{
		{"node glob", []events.Silence{maint}, []Target{{events.KindNodeDown, "gw-1"}, {events.KindNodeDown, "gw-2"}}, "maint"},
		{"one node outside", []events.Silence{maint}, []Target{{events.KindNodeDown, "gw-1"}, {events.KindNodeDown, "edge-1"}}, ""},
		{"kind", []events.Silence{rttOnly}, []Target{{events.KindRTTDegraded, "x"}}, "rtt"},
		{"other kind", []events.Silence{rttOnly}, []Target{{events.KindStaleSpike, "x"}}, ""},
		{"expired", []events.Silence{expired}, []Target{{events.KindNodeDown, "gw-1"}}, ""},
		{"no targets", []events.Silence{maint}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Silenced(tc.silences, tc.targets, now)
			if (got == nil) != (tc.want == "") || (got != nil && got.ID != tc.want) {
				t.Fatalf("Silenced = %+v, want %q", got, tc.want)
			}
		})
	}
}
