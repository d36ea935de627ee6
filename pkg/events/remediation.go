package events

import "time"

// TypeRemediation is the type of the healer's decision events.
const TypeRemediation = "io.wsheal.healer.v1.remediation"

func init() { register(func() Payload { return new(Remediation) }) }

// Remediation actions.
const (
	ActionReconnect  = "reconnect"
	ActionResize     = "resize"
	ActionDrain      = "drain"
	ActionUndrain    = "undrain"
	ActionRebalance  = "rebalance"
	ActionRestart    = "restart"
	ActionWebhook    = "webhook"
	ActionEscalate   = "escalate"
	ActionQuarantine = "quarantine"
)

// Remediation phases.
const (
	PhaseRequested = "requested"
	PhaseStarted   = "started"
	PhaseSucceeded = "succeeded"
	PhaseFailed    = "failed"
	PhaseSkipped   = "skipped"
)

// Reasons for a skipped remediation.
const (
	SkipCooldown  = "cooldown"
	SkipBudget    = "budget"
	SkipPanic     = "panic"
	SkipDryRun    = "dry-run"
	SkipHandsOff  = "hands-off"
	SkipPaused    = "paused"
	SkipBlast     = "blast-radius"
	SkipNoTarget  = "no-target"
	SkipRetryCap  = "retry-cap"
	SkipNoPolicy  = "no-policy"
	SkipFlapping  = "flapping"
	SkipResolved  = "resolved"
	SkipDuplicate = "duplicate"
)

// Remediation is one decision of the healer, published on
// RemediationSubject(action, target) for every phase: the audit trail.
type Remediation struct {
	ID        string         `json:"id"` // one decision; each phase has its own event id
	AnomalyID string         `json:"anomaly_id"`
	Kind      string         `json:"kind,omitempty"` // the anomaly's kind
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Phase     string         `json:"phase"`
	Reason    string         `json:"reason,omitempty"`
	Attempt   int            `json:"attempt"`
	DryRun    bool           `json:"dry_run,omitempty"`
	Params    map[string]any `json:"params,omitempty"`
	Detail    string         `json:"detail,omitempty"`
	Deadline  time.Time      `json:"deadline,omitzero"`
	// Escalate is set when the healer hands the incident to a human.
	Escalate bool `json:"escalate,omitempty"`
}

// EventType implements Payload.
func (*Remediation) EventType() string { return TypeRemediation }

// EventID implements Identified.
func (r *Remediation) EventID() string { return r.ID + ":" + r.Phase }

// Validate implements Payload.
func (r *Remediation) Validate() error {
	switch {
	case r.ID == "":
		return missing("id")
	case r.Action == "":
		return missing("action")
	case r.Target == "":
		return missing("target")
	case r.Phase == "":
		return missing("phase")
	}
	return nil
}
