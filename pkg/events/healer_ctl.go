package events

import "time"

// Healer control verbs, under ControlGroup(ServiceHealer). status is
// VerbStatus, answered with HealerStatus.
const (
	// VerbHealerPolicies returns the effective policy file (HealerPolicies).
	VerbHealerPolicies = "policies"
	// VerbHealerPause stops every action until resume (HealerPauseCommand).
	VerbHealerPause = "pause"
	// VerbHealerResume lifts a pause (HealerResumeCommand).
	VerbHealerResume = "resume"
	// VerbHealerDryRun turns shadow mode on or off (HealerDryRunCommand).
	VerbHealerDryRun = "dryrun"
	// VerbHealerHandsOff sets or clears a node's hands-off lock (HandsOffCommand).
	VerbHealerHandsOff = "handsoff"
	// VerbHealerActions lists recent remediation decisions (HealerActionsRequest).
	VerbHealerActions = "actions"
	// VerbHealerRecord returns what each remedy did (HealerRecordRequest,
	// answered with HealerRecord).
	VerbHealerRecord = "record"
)

// HandsOff is a per-node lock: the healer does not act on the node.
type HandsOff struct {
	Node   string `json:"node"`
	Reason string `json:"reason,omitempty"`
	// By is the NATS identity that asked, as the healer established it
	// (see HealerPauseCommand), never the request's own claim.
	By string `json:"by,omitempty"`
	// Claimed is the name the request gave for itself (the command's by),
	// kept for the record only.
	Claimed   string    `json:"claimed,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Since     time.Time `json:"since"`
}

// HealerStatus is the healer's reply to status. The switches are shared by
// every replica (kept in BucketHealer).
type HealerStatus struct {
	Instance    string     `json:"instance"`
	State       string     `json:"state"` // active, paused or dry-run
	Paused      bool       `json:"paused"`
	DryRun      bool       `json:"dry_run"`
	HandsOff    []HandsOff `json:"hands_off,omitempty"`
	Quarantined []string   `json:"quarantined,omitempty"`
	InFlight    []string   `json:"in_flight,omitempty"` // anomaly ids handled by this instance now
	Policies    int        `json:"policies"`
	PolicyFile  string     `json:"policy_file"` // path, or "built-in"
	Tokens      float64    `json:"tokens"`      // left in this instance's action budget
}

// HealerPolicies is the reply to policies: the effective policies as YAML.
type HealerPolicies struct {
	Source string `json:"source"` // path, or "built-in"
	YAML   string `json:"yaml"`
}

// HealerPauseCommand pauses every action of every replica.
//
// Every switch (pause, resume, dryrun, handsoff) needs an id: the same id
// twice changes the switches once. The healer records who asked from the
// request's authenticated identity: the Nats-Request-Info header when the
// server sets it (a request that crossed an account's service import, and
// WSHEAL_HEALER_TRUST_REQUEST_INFO=true), else the identity NATS
// permissions give the switch subjects (WSHEAL_HEALER_SWITCH_IDENTITY).
// By is what the requester says of itself and is kept as a claim only.
type HealerPauseCommand struct {
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// Validate implements Command.
func (c *HealerPauseCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	return healerText("reason", c.Reason)
}

// HealerResumeCommand resumes after a pause.
type HealerResumeCommand struct {
	ID string `json:"id"`
	By string `json:"by,omitempty"`
}

// Validate implements Command.
func (c *HealerResumeCommand) Validate() error { return NeedID(c.ID) }

// HealerDryRunCommand turns dry-run (shadow) mode on or off: decisions are
// made and published as skipped(dry-run), nothing is done.
type HealerDryRunCommand struct {
	ID string `json:"id"`
	On *bool  `json:"on"`
	By string `json:"by,omitempty"`
}

// Validate implements Command.
func (c *HealerDryRunCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	if c.On == nil {
		return missing("on")
	}
	return nil
}

// HandsOffCommand sets (On true) or clears (On false) a node's hands-off
// lock. Clearing also lifts a quarantine of the node.
type HandsOffCommand struct {
	ID     string `json:"id"`
	Node   string `json:"node"`
	On     *bool  `json:"on"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// Validate implements Command.
func (c *HandsOffCommand) Validate() error {
	if err := NeedID(c.ID); err != nil {
		return err
	}
	if c.Node == "" {
		return missing("node")
	}
	if err := ValidateToken(c.Node); err != nil {
		return invalid("node", "%v", err)
	}
	if c.On == nil {
		return missing("on")
	}
	return healerText("reason", c.Reason)
}

// HealerSwitches is the reply to pause, resume, dryrun and handsoff: the
// switches as they are after the command.
type HealerSwitches struct {
	Paused   bool       `json:"paused"`
	DryRun   bool       `json:"dry_run"`
	HandsOff []HandsOff `json:"hands_off,omitempty"`
}

// HealerActionsRequest asks for the most recent remediation decisions.
type HealerActionsRequest struct {
	Limit  int    `json:"limit,omitempty"`  // default 50, at most 500
	Target string `json:"target,omitempty"` // only this target
}

// Validate implements Command.
func (r *HealerActionsRequest) Validate() error {
	if r.Limit < 0 || r.Limit > 500 {
		return invalid("limit", "%d, want 0..500", r.Limit)
	}
	if r.Target != "" && ValidateToken(r.Target) != nil {
		return invalid("target", "%q is not a node id", r.Target)
	}
	return nil
}

// HealerActions is the reply to actions, newest first.
type HealerActions struct {
	Actions []Remediation `json:"actions"`
}

func healerText(field, s string) error {
	if len(s) > 512 {
		return invalid(field, "longer than 512 bytes")
	}
	return nil
}

// VerifyBounds are the upper bounds, in seconds, of the buckets of a
// RemedyRecord's time to verify; the last bucket is above them all.
var VerifyBounds = []float64{1, 2, 5, 10, 20, 30, 60, 120, 300}

// RemedyRecord is what one remedy did for one anomaly kind on one class
// of target (node or fleet), kept in BucketRecord and shared by every
// healer replica.
type RemedyRecord struct {
	Kind      string `json:"kind"`
	Remedy    string `json:"remedy"`
	Class     string `json:"class"`
	Attempts  int    `json:"attempts"`
	Successes int    `json:"successes"`
	// Failures counts failed attempts by reason: error (the action was
	// refused or failed) or deadline (its post-condition did not hold).
	Failures map[string]int `json:"failures,omitempty"`
	// Streak counts failures in a row; a success resets it.
	Streak int `json:"streak"`
	// VerifyBuckets counts successes by time to verify (VerifyBounds).
	VerifyBuckets []int `json:"verify_buckets"`
	// VerifyMS is the total time to verify of the successes; WastedMS the
	// total time spent on failed attempts.
	VerifyMS int64 `json:"verify_ms"`
	WastedMS int64 `json:"wasted_ms"`
	// ClientsMoved counts the clients the remedy asked to reconnect or
	// drained; Pages counts the cases escalated to a person after it failed.
	ClientsMoved int             `json:"clients_moved"`
	Pages        int             `json:"pages"`
	Last         []RemedyOutcome `json:"last,omitempty"` // newest last
	Updated      time.Time       `json:"updated"`
}

// RemedyOutcome is one attempt's end in a RemedyRecord.
type RemedyOutcome struct {
	At           time.Time `json:"at"`
	Anomaly      string    `json:"anomaly"`
	OK           bool      `json:"ok"`
	Reason       string    `json:"reason,omitempty"`
	MS           int64     `json:"ms"` // from the attempt's start to its end
	ClientsMoved int       `json:"clients_moved,omitempty"`
	Paged        bool      `json:"paged,omitempty"`
}

// HealerRecordRequest asks for the records, all or one anomaly kind's.
type HealerRecordRequest struct {
	Kind string `json:"kind,omitempty"`
}

// Validate implements Command.
func (r *HealerRecordRequest) Validate() error {
	if r.Kind != "" && ValidateToken(r.Kind) != nil {
		return invalid("kind", "%q is not an anomaly kind", r.Kind)
	}
	return nil
}

// HealerRecord is the reply to record, ordered by kind, class and remedy.
type HealerRecord struct {
	Records []RemedyRecord `json:"records"`
}
