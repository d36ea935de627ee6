package clientcases

import (
	"encoding/json"
	"sync"
)

// Dial is how a driver connects its client.
type Dial struct {
	URLs      []string `json:"urls,omitempty"`
	Discovery string   `json:"discovery,omitempty"`
	Token     string   `json:"token,omitempty"`
	// TokenURL, when set, answers a fresh token (text) to every GET: the
	// client must fetch one before every connect (its token callback).
	TokenURL string `json:"token_url,omitempty"`
}

// Driver is a client under test. Calls come from one goroutine; the
// driver reports what its client saw to the Record it was given.
type Driver interface {
	// Dial connects and returns once the first hello arrived, or fails
	// with the client's error code (e.g. "unauthorized").
	Dial(d Dial, rec *Record) error
	// Subscribe waits for the subscribe reply or the error frame.
	Subscribe(channel string) error
	// Publish sends data and waits for the acknowledgement.
	Publish(channel string, data json.RawMessage) (seq uint64, err error)
	// Close stops the client.
	Close()
}

// CodeError is a failure with the protocol's code (an error frame's
// code, or a close code's name for a stopped client).
type CodeError struct {
	Code    string
	Message string
}

func (e *CodeError) Error() string { return e.Code + ": " + e.Message }

// State is one connection state change.
type State struct {
	State  string `json:"state"` // connecting, connected, disconnected, reconnecting, closed
	Node   string `json:"node,omitempty"`
	Code   int    `json:"code,omitempty"`
	Hinted bool   `json:"hinted,omitempty"`
}

// Gap is a recovered:false answer.
type Gap struct {
	Channel  string `json:"channel"`
	NewEpoch bool   `json:"new_epoch"`
}

// Message is one delivery to the application.
type Message struct {
	Seq  uint64          `json:"seq"`
	Data json.RawMessage `json:"data"`
}

// Record is what the client delivered and reported, in order.
type Record struct {
	mu       sync.Mutex
	messages map[string][]Message
	states   []State
	gaps     []Gap
}

// Deliver records a message handed to the application.
func (r *Record) Deliver(channel string, m Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.messages == nil {
		r.messages = map[string][]Message{}
	}
	r.messages[channel] = append(r.messages[channel], m)
}

// AddState records a state change.
func (r *Record) AddState(s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

// AddGap records a gap.
func (r *Record) AddGap(g Gap) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gaps = append(r.gaps, g)
}

// Snapshot returns the messages of channel, the states and the gaps so far.
func (r *Record) Snapshot(channel string) ([]Message, []State, []Gap) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.messages[channel]...), append([]State(nil), r.states...), append([]Gap(nil), r.gaps...)
}
