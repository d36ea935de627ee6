// Package incident turns anomalies and remediation events into incidents:
// grouping under a stable dedup key, severity, the state machine
// (triggered -> acknowledged -> mitigated -> resolved), the timeline, the
// paging decisions and their durable hand-off to the outbox. Every change
// is a compare-and-set on the incidents KV bucket, so replicas and
// restarts neither lose nor duplicate an incident.
package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/services/notifier/policy"
	"github.com/wsheal/wsheal/services/notifier/sink"
)

// Bounds that keep a record well under the KV value limit.
const (
	MaxTimeline = 1000
	maxSeen     = 256
	maxActions  = 200
	// snapshotTimeline is how much of the timeline a message carries.
	snapshotTimeline = 100
)

// Record is what the incidents bucket stores under the incident id: the
// events.Incident (its JSON fields inline, so any reader decodes it as
// an Incident) plus the notifier's own tracking.
type Record struct {
	events.Incident
	Track Track `json:"tracking"`
}

// Member is one anomaly of an incident.
type Member struct {
	Kind        string          `json:"kind"`
	Target      string          `json:"target"`
	Nodes       []string        `json:"nodes,omitempty"`
	Severity    string          `json:"severity"`
	Impact      events.Impact   `json:"impact"`
	Evidence    events.Evidence `json:"evidence"`
	Open        bool            `json:"open"`
	ImpactStart time.Time       `json:"impact_start"`
	DetectedAt  time.Time       `json:"detected_at"`
	ResolvedAt  time.Time       `json:"resolved_at,omitzero"`
}

// Track is the notifier's bookkeeping of an incident.
type Track struct {
	Group         string                `json:"group"`
	Members       map[string]*Member    `json:"members"`
	DetectedAt    time.Time             `json:"detected_at"`
	LastAnomalyAt time.Time             `json:"last_anomaly_at"`
	Actions       []events.ActionResult `json:"actions,omitempty"`
	HealDeadline  time.Time             `json:"heal_deadline,omitzero"`
	PageReason    string                `json:"page_reason,omitempty"`
	PagedSinks    []string              `json:"paged_sinks,omitempty"`
	Escalated     bool                  `json:"escalated,omitempty"` // by the healer
	Failures      int                   `json:"failures,omitempty"`  // failed remediation attempts
	NextLevelAt   time.Time             `json:"next_level_at,omitzero"`
	NextRepeatAt  time.Time             `json:"next_repeat_at,omitzero"`
	Suppressed    string                `json:"suppressed,omitempty"` // silence id
	ManualResolve bool                  `json:"manual_resolve,omitempty"`
	ResolveSent   bool                  `json:"resolve_sent,omitempty"`
	ReviewAt      time.Time             `json:"review_at,omitzero"`
	ReviewDue     bool                  `json:"review_due,omitempty"`
	ReviewDone    bool                  `json:"review_done,omitempty"`
	Seq           int                   `json:"seq"`
	PublishedSeq  int                   `json:"published_seq"`
	Pending       []sink.Message        `json:"pending,omitempty"`
	Notices       []events.Notification `json:"notices,omitempty"`
	Seen          []string              `json:"seen,omitempty"`
}

// Dirty reports whether the record holds work not yet handed on.
func (r *Record) Dirty() bool {
	t := &r.Track
	return len(t.Pending) > 0 || len(t.Notices) > 0 || t.PublishedSeq < t.Seq || t.ReviewDue
}

// Settled reports whether nothing more will happen to the record by itself.
func (r *Record) Settled() bool {
	return r.State == events.IncidentResolved && r.Track.ReviewDone && !r.Dirty()
}

// seen records an event or command id; it reports true if it was seen before.
func (r *Record) seen(id string) bool {
	if id == "" {
		return false
	}
	if slices.Contains(r.Track.Seen, id) {
		return true
	}
	r.Track.Seen = append(r.Track.Seen, id)
	if len(r.Track.Seen) > maxSeen {
		r.Track.Seen = r.Track.Seen[len(r.Track.Seen)-maxSeen:]
	}
	return false
}

// note appends a timeline entry, keeping the first entries and the most
// recent ones when the timeline is full.
func (r *Record) note(e events.TimelineEntry) {
	e.Time = e.Time.UTC()
	r.Timeline = append(r.Timeline, e)
	if len(r.Timeline) > MaxTimeline {
		head := MaxTimeline / 20
		r.Timeline = append(r.Timeline[:head:head], r.Timeline[len(r.Timeline)-(MaxTimeline-head):]...)
	}
}

// Snapshot is the incident as messages and events carry it: its recent
// timeline only.
func (r *Record) Snapshot() events.Incident {
	inc := r.Incident
	inc.Kinds = slices.Clone(inc.Kinds)
	inc.Nodes = slices.Clone(inc.Nodes)
	inc.Anomalies = slices.Clone(inc.Anomalies)
	inc.Open = slices.Clone(inc.Open)
	if n := len(inc.Timeline); n > snapshotTimeline {
		inc.Timeline = inc.Timeline[n-snapshotTimeline:]
	}
	inc.Timeline = slices.Clone(inc.Timeline)
	return inc
}

// Targets are the (kind, node) pairs of the incident's anomalies, for
// silences. A fleet-wide anomaly has node "fleet".
func (r *Record) Targets() []policy.Target {
	var out []policy.Target
	for _, m := range r.Track.Members {
		nodes := m.Nodes
		if len(nodes) == 0 {
			nodes = []string{m.Target}
		}
		for _, n := range nodes {
			out = append(out, policy.Target{Kind: m.Kind, Node: n})
		}
	}
	return out
}

// Group is the grouping class of an anomaly. Anomalies of one group
// within the grouping window make one incident:
//
//	node_down, node_hung, fleet_silent     "availability" (fleet-wide: several nodes down are one incident)
//	rtt_degraded, stale_spike,
//	slow_consumers, error_rate             "quality:<target>" (one node's symptoms together)
//	saturation, reconnect_storm, imbalance "load:<target>"
//	anything else                          "<kind>:<target>"
func Group(a *events.Anomaly) string {
	switch a.Kind {
	case events.KindNodeDown, events.KindNodeHung, events.KindFleetSilent:
		return "availability"
	case events.KindRTTDegraded, events.KindStaleSpike, events.KindSlowConsumers, events.KindErrorRate:
		return "quality:" + a.Target
	case events.KindSaturation, events.KindReconnectStorm, events.KindImbalance:
		return "load:" + a.Target
	}
	return a.Kind + ":" + a.Target
}

// Key is the stable dedup key of an incident opened by a in group: the
// group and the second the first anomaly was detected. It is also the
// PagerDuty dedup_key from trigger to resolve.
func Key(group string, a *events.Anomaly) string {
	return "wsheal/" + group + "/" + strconv.FormatInt(a.DetectedAt.Unix(), 10)
}

// ID derives the incident id from its dedup key, so replicas that open
// the same incident pick the same id.
func ID(key string) string { return "inc-" + hash(key)[:12] }

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// detection describes, per anomaly in order, what the monitor saw.
func (r *Record) detection() []string {
	var out []string
	for _, id := range r.Anomalies {
		m := r.Track.Members[id]
		if m == nil {
			continue
		}
		line := fmt.Sprintf("%s on %s, detected %s (first bad sample %s)", m.Kind, m.Target,
			m.DetectedAt.Format("15:04:05.000"), m.ImpactStart.Format("15:04:05.000"))
		if ev := m.Evidence; ev.Metric != "" {
			line += fmt.Sprintf(": %s %g against threshold %g over %v", ev.Metric, ev.Value, ev.Threshold,
				time.Duration(ev.WindowMS)*time.Millisecond)
			if ev.Detail != "" {
				line += " (" + ev.Detail + ")"
			}
		}
		out = append(out, line)
	}
	return out
}
