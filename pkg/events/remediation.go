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
	// ActionScale adds a gateway node to the fleet or removes one (by a
	// paced drain first); its Params carry the signed "step": +1 or -1.
	ActionScale = "scale"
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
	// SkipFleetDegraded: a quarantine waits while fleet_degraded names
	// its node (the node does not stand out from healthy peers).
	SkipFleetDegraded = "fleet-degraded"
	// SkipScaleBounds: a scale would take the fleet past its configured
	// minimum or maximum size.
	SkipScaleBounds = "scale-bounds"
	// SkipScaleHold: a scale-in waits while a node is unhealthy, draining,
	// quarantined or under a hands-off lock (a rollout holds one).
	SkipScaleHold = "scale-hold"
	// SkipScaleCooldown: too soon after the last scale of the fleet.
	SkipScaleCooldown = "scale-cooldown"
	// SkipUnsupported: the deployment's executor cannot carry out the
	// action (a scale under wsheal dev or on Kubernetes); a person must.
	SkipUnsupported = "unsupported"
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
	// Choice, on the requested event of a ladder step, says why this
	// remedy comes now: the order the healer chose and the record it used.
	Choice *RemedyChoice `json:"choice,omitempty"`
}

// Rules of a RemedyChoice.
const (
	ChoicePinned  = "pinned"  // the policy's ladder as written
	ChoiceLearned = "learned" // the ladder ordered by the record
	ChoiceExplore = "explore" // a less-tried remedy first, so the record does not freeze
)

// RemedyChoice is the order of a policy's ladder for one case, and why.
type RemedyChoice struct {
	Rule  string   `json:"rule"`
	Order []string `json:"order"` // the remedies, in the order they are tried
	Why   string   `json:"why"`
	// Record holds the figures of each remedy the order was made from.
	Record []RemedyFigures `json:"record,omitempty"`
}

// RemedyFigures are the figures of one remedy's record a choice used.
type RemedyFigures struct {
	Remedy    string `json:"remedy"`
	Attempts  int    `json:"attempts"`
	Successes int    `json:"successes"`
	// Score is the Laplace-smoothed success rate (successes+1)/(attempts+2).
	Score float64 `json:"score"`
	// MedianVerifyMS is the median time to verify a success (upper bound of
	// its bucket; 0 when none).
	MedianVerifyMS int64 `json:"median_verify_ms,omitempty"`
	Streak         int   `json:"streak,omitempty"` // failures in a row
	Demoted        bool  `json:"demoted,omitempty"`
	Disruptive     bool  `json:"disruptive,omitempty"` // takes a node out of service
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
