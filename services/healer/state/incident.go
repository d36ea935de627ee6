package state

import (
	"context"
	"time"
)

// Incident is the progress of the healer on one anomaly, written before
// each action so that a replica that takes over after a crash carries on
// from it (same attempt, same command ids).
type Incident struct {
	AnomalyID string    `json:"anomaly_id"`
	Kind      string    `json:"kind"`
	Target    string    `json:"target"`
	Policy    string    `json:"policy"`
	Opened    time.Time `json:"opened"`
	// Current is the attempt in flight (0: none); Attempts counts attempts
	// started; Failures counts failed verifications.
	Current   int       `json:"current"`
	StartedAt time.Time `json:"started_at,omitzero"`
	Attempts  int       `json:"attempts"`
	Failures  int       `json:"failures"`
	Requested int       `json:"requested"` // last attempt announced as requested
	Tried     []string  `json:"tried,omitempty"`
	// LastSkip is the last skip reason published, so that a waiting
	// incident says so once.
	LastSkip string `json:"last_skip,omitempty"`
	Done     bool   `json:"done"`
	Outcome  string `json:"outcome,omitempty"`
	// Restore is set while a node's admission is lowered: restored once the
	// anomaly resolved and RestoreAfter passed.
	Restore      []string      `json:"restore,omitempty"`
	RestoreAfter time.Duration `json:"restore_after,omitempty"`
}

// Incident reads the progress on an anomaly; found false when new.
func (s *Store) Incident(ctx context.Context, anomalyID string) (Incident, bool, error) {
	var inc Incident
	_, found, err := s.get(ctx, "incident."+Key(anomalyID), &inc)
	return inc, found, err
}

// SaveIncident writes the progress.
func (s *Store) SaveIncident(ctx context.Context, inc Incident) error {
	return s.put(ctx, "incident."+Key(inc.AnomalyID), inc)
}
