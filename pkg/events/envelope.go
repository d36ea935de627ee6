package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nuid"
)

// SpecVersion is the CloudEvents specification version of the envelope.
const SpecVersion = "1.0"

// MaxEventSize bounds an encoded event; larger input is rejected unread.
const MaxEventSize = 1 << 20

// TypePrefix starts every wsheal event type.
const TypePrefix = "io.wsheal."

// Decoding errors. Decode returns a *DecodeError that wraps one of them.
var (
	ErrMalformed    = errors.New("events: malformed")
	ErrOversize     = errors.New("events: oversize")
	ErrUnknownType  = errors.New("events: unknown type")
	ErrWrongVersion = errors.New("events: wrong version")
	ErrMissingField = errors.New("events: missing field")
	ErrInvalidField = errors.New("events: invalid field")
)

// DecodeError says why an event or command was rejected and, where it
// applies, which field.
type DecodeError struct {
	Err    error  // one of the Err* sentinels
	Field  string // the offending field, if any
	Detail string
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

func missing(field string) error { return &DecodeError{Err: ErrMissingField, Field: field} }

func invalid(field, format string, args ...any) error {
	return &DecodeError{Err: ErrInvalidField, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// Payload is the data of an event. Every payload type is registered here
// and knows its versioned CloudEvents type.
type Payload interface {
	// EventType is the versioned type, e.g. io.wsheal.gateway.v1.heartbeat.
	EventType() string
	// Validate reports a missing or invalid field as a *DecodeError.
	Validate() error
}

// Identified is implemented by payloads whose event id is deterministic
// (an anomaly's id is derived from kind, target and window), so that
// replicas publishing the same fact are de-duplicated by JetStream.
type Identified interface {
	EventID() string
}

// Envelope is a CloudEvents 1.0 structured-mode event.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// Event is a decoded envelope with its typed payload.
type Event struct {
	Envelope
	Payload Payload `json:"-"`
}

// Source names the emitter of an event: /wsheal/<service>/<instance>.
func Source(service, instance string) string { return "/wsheal/" + service + "/" + instance }

// New wraps a payload in an envelope with a fresh id (or the payload's own
// deterministic id) and the current time.
func New(source, subject string, p Payload) *Event {
	id := ""
	if ip, ok := p.(Identified); ok {
		id = ip.EventID()
	}
	if id == "" {
		id = nuid.Next()
	}
	return &Event{
		Envelope: Envelope{
			SpecVersion:     SpecVersion,
			ID:              id,
			Source:          source,
			Type:            p.EventType(),
			Subject:         subject,
			Time:            time.Now().UTC(),
			DataContentType: "application/json",
		},
		Payload: p,
	}
}

// Encode marshals the event, payload included.
func (e *Event) Encode() ([]byte, error) {
	data, err := json.Marshal(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", e.Type, err)
	}
	env := e.Envelope
	env.Data = data
	return json.Marshal(&env)
}

var registry = map[string]func() Payload{}

// familyVersions maps a type without version ("gateway.heartbeat") to the
// versions known, for ErrWrongVersion.
var familyVersions = map[string]string{}

func register(f func() Payload) {
	t := f().EventType()
	domain, version, name, ok := splitType(t)
	if !ok {
		panic("events: bad type " + t)
	}
	registry[t] = f
	familyVersions[domain+"."+name] = version
}

// splitType splits io.wsheal.<domain>.<vN>.<name>.
func splitType(t string) (domain, version, name string, ok bool) {
	rest, found := strings.CutPrefix(t, TypePrefix)
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || len(parts[1]) < 2 || parts[1][0] != 'v' {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// Types lists every registered event type.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	return out
}

// Decode parses and validates an event: envelope fields, known versioned
// type, and the payload's own required fields. Any failure is a
// *DecodeError; Decode never panics on any input.
func Decode(b []byte) (*Event, error) {
	if len(b) > MaxEventSize {
		return nil, &DecodeError{Err: ErrOversize, Detail: fmt.Sprintf("%d bytes, at most %d", len(b), MaxEventSize)}
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, &DecodeError{Err: ErrMalformed, Detail: err.Error()}
	}
	if err := env.validate(); err != nil {
		return nil, err
	}
	f, ok := registry[env.Type]
	if !ok {
		if domain, _, name, split := splitType(env.Type); split {
			if v, known := familyVersions[domain+"."+name]; known {
				return nil, &DecodeError{Err: ErrWrongVersion, Field: "type", Detail: fmt.Sprintf("%s, this build reads %s", env.Type, v)}
			}
		}
		return nil, &DecodeError{Err: ErrUnknownType, Field: "type", Detail: env.Type}
	}
	p := f()
	if err := decodeData(env.Data, p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Event{Envelope: env, Payload: p}, nil
}

func decodeData(data json.RawMessage, p any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return missing("data")
	}
	if trimmed[0] != '{' {
		return invalid("data", "not a JSON object")
	}
	if err := json.Unmarshal(trimmed, p); err != nil {
		return &DecodeError{Err: ErrMalformed, Field: "data", Detail: err.Error()}
	}
	return nil
}

func (e *Envelope) validate() error {
	switch {
	case e.SpecVersion == "":
		return missing("specversion")
	case e.SpecVersion != SpecVersion:
		return &DecodeError{Err: ErrWrongVersion, Field: "specversion", Detail: e.SpecVersion}
	case e.ID == "":
		return missing("id")
	case e.Source == "":
		return missing("source")
	case e.Type == "":
		return missing("type")
	case e.Time.IsZero():
		return missing("time")
	case e.DataContentType != "" && e.DataContentType != "application/json":
		return invalid("datacontenttype", "%q, want application/json", e.DataContentType)
	}
	return nil
}

// As returns the event's payload as T.
func As[T Payload](e *Event) (T, bool) {
	p, ok := e.Payload.(T)
	return p, ok
}
