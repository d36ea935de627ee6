package events

import "time"

// Notifier event types.
const (
	TypeIncident     = "io.wsheal.notifier.v1.incident"
	TypeNotification = "io.wsheal.notifier.v1.notification"
	TypeReview       = "io.wsheal.notifier.v1.review"
)

func init() {
	register(func() Payload { return new(Incident) })
	register(func() Payload { return new(Notification) })
	register(func() Payload { return new(Review) })
}

// Incident states.
const (
	IncidentTriggered    = "triggered"
	IncidentAcknowledged = "acknowledged"
	IncidentMitigated    = "mitigated"
	IncidentResolved     = "resolved"
)

// TimelineEntry is one event in an incident's life.
type TimelineEntry struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // anomaly, remediation, notification, ack, note, state
	Text   string    `json:"text"`
	Ref    string    `json:"ref,omitempty"` // id of the anomaly, remediation, ...
	Author string    `json:"author,omitempty"`
}

// Incident is the notifier's record, published on IncidentSubject(id) at every
// change (Change says which) and kept in the incidents KV bucket.
type Incident struct {
	ID          string          `json:"id"`
	Key         string          `json:"key"` // dedup key; the PagerDuty dedup_key
	Title       string          `json:"title"`
	Severity    string          `json:"severity"` // SEV1..SEV4
	State       string          `json:"state"`
	Change      string          `json:"change,omitempty"`
	Kinds       []string        `json:"kinds"`
	Nodes       []string        `json:"nodes,omitempty"`
	Anomalies   []string        `json:"anomalies"`
	Open        []string        `json:"open_anomalies,omitempty"`
	Impact      Impact          `json:"impact"`
	ImpactStart time.Time       `json:"impact_start"`
	OpenedAt    time.Time       `json:"opened_at"`
	AckedAt     time.Time       `json:"acked_at,omitzero"`
	MitigatedAt time.Time       `json:"mitigated_at,omitzero"`
	ResolvedAt  time.Time       `json:"resolved_at,omitzero"`
	Paged       bool            `json:"paged"`
	Level       int             `json:"level"` // escalation level reached, 0 before paging
	Timeline    []TimelineEntry `json:"timeline,omitempty"`
}

// EventType implements Payload.
func (*Incident) EventType() string { return TypeIncident }

// Validate implements Payload.
func (i *Incident) Validate() error {
	switch {
	case i.ID == "":
		return missing("id")
	case i.State == "":
		return missing("state")
	case i.Severity == "":
		return missing("severity")
	}
	return nil
}

// Notification is the outcome of one message to one sink.
type Notification struct {
	IncidentID string `json:"incident_id"`
	Sink       string `json:"sink"`
	Action     string `json:"action"` // trigger, acknowledge, resolve, summary, repeat, escalate
	Status     string `json:"status"` // sent, failed, suppressed
	Attempts   int    `json:"attempts"`
	Level      int    `json:"level,omitempty"`
	Error      string `json:"error,omitempty"`
}

// EventType implements Payload.
func (*Notification) EventType() string { return TypeNotification }

// Validate implements Payload.
func (n *Notification) Validate() error {
	switch {
	case n.IncidentID == "":
		return missing("incident_id")
	case n.Sink == "":
		return missing("sink")
	case n.Status == "":
		return missing("status")
	}
	return nil
}

// ActionResult is one remediation attempt in a review.
type ActionResult struct {
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Result  string    `json:"result"` // succeeded, failed, skipped
	Reason  string    `json:"reason,omitempty"`
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
}

// Review is the post-incident review written when an incident resolves,
// published on ReviewSubject(incident id) and kept in the reviews stream.
type Review struct {
	IncidentID  string          `json:"incident_id"`
	Title       string          `json:"title"`
	Severity    string          `json:"severity"`
	Summary     string          `json:"summary"`
	Impact      Impact          `json:"impact"`
	DurationMS  int64           `json:"duration_ms"`
	ImpactStart time.Time       `json:"impact_start"`
	DetectedAt  time.Time       `json:"detected_at"`
	AckedAt     time.Time       `json:"acked_at,omitzero"`
	MitigatedAt time.Time       `json:"mitigated_at,omitzero"`
	ResolvedAt  time.Time       `json:"resolved_at"`
	MTTDMS      int64           `json:"mttd_ms"`
	MTTAMS      int64           `json:"mtta_ms,omitempty"`
	MTTMMS      int64           `json:"mttm_ms,omitempty"`
	MTTRMS      int64           `json:"mttr_ms"`
	AutoHealed  bool            `json:"auto_healed"`
	Paged       bool            `json:"paged"`
	Actions     []ActionResult  `json:"actions"`
	Timeline    []TimelineEntry `json:"timeline"`
	// Tune is the review's "what to tune" lines: each names the setting
	// that decided a part of the incident (a remedy's failures, a
	// remedy held back, a slow detection, a detector that fired on
	// nothing). Empty when healing went by the settings.
	Tune     []string `json:"tune,omitempty"`
	Markdown string   `json:"markdown"`
}

// EventType implements Payload.
func (*Review) EventType() string { return TypeReview }

// EventID implements Identified: one review per incident.
func (r *Review) EventID() string { return "review-" + r.IncidentID }

// Validate implements Payload.
func (r *Review) Validate() error {
	switch {
	case r.IncidentID == "":
		return missing("incident_id")
	case r.ResolvedAt.IsZero():
		return missing("resolved_at")
	}
	return nil
}
