package clientcases

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed cases.json
var casesJSON []byte

// Table is the decoded cases.json.
type Table struct {
	Doc   string `json:"doc"`
	Cases []Case `json:"cases"`
}

// Case is one protocol scenario.
type Case struct {
	Name  string `json:"name"`
	Doc   string `json:"doc"`
	Nodes int    `json:"nodes"`
	// Auth runs the nodes with JWT auth; tokens grant chat:* only.
	Auth  bool   `json:"auth"`
	Steps []Step `json:"steps"`
}

// Step is an action (Do) or an expectation (Expect).
type Step struct {
	Do     string `json:"do,omitempty"`
	Expect string `json:"expect,omitempty"`

	Channel string `json:"channel,omitempty"`
	From    int    `json:"from,omitempty"`
	To      int    `json:"to,omitempty"`
	Count   int    `json:"count,omitempty"`
	Node    string `json:"node,omitempty"`
	// Via is "urls" (default) or "discovery".
	Via string `json:"via,omitempty"`
	// Token is "valid", "bad" or "short" (3 s, from a callback).
	Token string `json:"token,omitempty"`
	// Error is the error code the action must fail with.
	Error    string `json:"error,omitempty"`
	Hinted   bool   `json:"hinted,omitempty"`
	NewEpoch bool   `json:"new_epoch,omitempty"`
	Code     int    `json:"code,omitempty"`
	Min      int    `json:"min,omitempty"`
	// GapAfter: messages 1..GapAfter, then a gap, then a contiguous run.
	GapAfter int `json:"gap_after,omitempty"`
	Max      int `json:"max,omitempty"`
}

func (s Step) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Load decodes the embedded table.
func Load() (Table, error) {
	var t Table
	if err := json.Unmarshal(casesJSON, &t); err != nil {
		return t, fmt.Errorf("clientcases: cases.json: %w", err)
	}
	return t, nil
}
