package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Control subjects are request-reply endpoints of NATS micro services, so
// that `nats micro ls|info|stats` discover them. Each service's endpoints
// live in one group:
//
//	wsheal.ctl.gw.<node>.<verb>     gateway node (service wsheal-gateway)
//	wsheal.ctl.monitor.<verb>       monitor      (service wsheal-monitor)
//	wsheal.ctl.healer.<verb>        healer       (service wsheal-healer)
//	wsheal.ctl.notifier.<verb>      notifier     (service wsheal-notifier)
//	wsheal.ctl.dev.<verb>           the `wsheal dev` supervisor (service wsheal-dev)

// ServiceName is the NATS micro service name of a wsheal service.
func ServiceName(service string) string { return "wsheal-" + service }

// GatewayControlGroup is the micro endpoint group of a gateway node.
func GatewayControlGroup(node string) string { return "wsheal.ctl.gw." + node }

// ControlGroup is the micro endpoint group of a singleton service
// (monitor, healer, notifier, dev).
func ControlGroup(service string) string { return "wsheal.ctl." + service }

// GatewayControlSubject is the subject of a verb on a gateway node.
func GatewayControlSubject(node, verb string) string { return GatewayControlGroup(node) + "." + verb }

// ControlSubject is the subject of a verb on a singleton service.
func ControlSubject(service, verb string) string { return ControlGroup(service) + "." + verb }

// VerbStatus is answered by every service.
const VerbStatus = "status"

// MaxCommandSize bounds a control request.
const MaxCommandSize = 64 << 10

// ErrorCode is the machine-readable class of a control error. It is also
// sent as the Nats-Service-Error-Code header (as an HTTP-like number).
type ErrorCode string

// Error codes of control replies.
const (
	CodeBadRequest  ErrorCode = "bad_request"
	CodeNotFound    ErrorCode = "not_found"
	CodeConflict    ErrorCode = "conflict"
	CodeForbidden   ErrorCode = "forbidden"
	CodeUnavailable ErrorCode = "unavailable"
	CodeInternal    ErrorCode = "internal"
)

func (c ErrorCode) number() string {
	switch c {
	case CodeBadRequest:
		return "400"
	case CodeForbidden:
		return "403"
	case CodeNotFound:
		return "404"
	case CodeConflict:
		return "409"
	case CodeUnavailable:
		return "503"
	}
	return "500"
}

// Error is a control error on the wire: a code and a message a person can act on.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds a control error.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Reply is the body of every control reply.
type Reply struct {
	OK    bool            `json:"ok"`
	Error *Error          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Respond sends a successful reply carrying data.
func Respond(req micro.Request, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		RespondError(req, Errorf(CodeInternal, "encode reply: %v", err))
		return
	}
	body, _ := json.Marshal(Reply{OK: true, Data: raw})
	_ = req.Respond(body)
}

// RespondError sends an error reply; err that is not an *Error is internal.
func RespondError(req micro.Request, err error) {
	var ce *Error
	if !errors.As(err, &ce) {
		var de *DecodeError
		if errors.As(err, &de) {
			ce = Errorf(CodeBadRequest, "%s", de.Error())
		} else {
			ce = Errorf(CodeInternal, "%s", err.Error())
		}
	}
	body, _ := json.Marshal(Reply{OK: false, Error: ce})
	_ = req.Error(ce.Code.number(), ce.Message, body)
}

// Command is a control request payload.
type Command interface {
	Validate() error
}

// DecodeCommand strictly decodes a control request: size-bounded, unknown
// fields rejected (a typo must not silently do something else), then
// validated. An empty body decodes as the zero command.
func DecodeCommand(b []byte, cmd Command) error {
	if len(b) > MaxCommandSize {
		return &DecodeError{Err: ErrOversize, Detail: fmt.Sprintf("%d bytes, at most %d", len(b), MaxCommandSize)}
	}
	if len(bytes.TrimSpace(b)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cmd); err != nil {
			return &DecodeError{Err: ErrMalformed, Detail: err.Error()}
		}
		if dec.More() {
			return &DecodeError{Err: ErrMalformed, Detail: "trailing data after the JSON object"}
		}
	}
	return cmd.Validate()
}

// ErrNoResponders is returned by Request when no service answers a subject.
var ErrNoResponders = errors.New("events: no service answered")

// Request sends a control request and decodes the reply's data into out
// (which may be nil). A control error comes back as an *Error; nobody
// answering as an error wrapping ErrNoResponders that names the subject.
func Request(ctx context.Context, nc *nats.Conn, subject string, cmd, out any) error {
	var body []byte
	if cmd != nil {
		var err error
		if body, err = json.Marshal(cmd); err != nil {
			return fmt.Errorf("events: encode request: %w", err)
		}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	req := &nats.Msg{Subject: subject, Data: body}
	if currentTracer() != nil {
		req.Header = nats.Header{}
	}
	end := traceOut(ctx, "request "+subject, SpanClient, req.Header, Attr{"messaging.destination.name", subject})
	msg, err := nc.RequestMsgWithContext(ctx, req)
	end(err)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("%w on %s: is it running?", ErrNoResponders, subject)
		}
		return fmt.Errorf("events: request %s: %w", subject, err)
	}
	return DecodeReply(msg.Data, out)
}

// DecodeReply decodes a control reply body into out.
func DecodeReply(b []byte, out any) error {
	var r Reply
	if err := json.Unmarshal(b, &r); err != nil {
		return &DecodeError{Err: ErrMalformed, Detail: "reply: " + err.Error()}
	}
	if !r.OK {
		if r.Error == nil {
			return Errorf(CodeInternal, "reply not ok and without an error")
		}
		return r.Error
	}
	if out == nil || len(r.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		return &DecodeError{Err: ErrMalformed, Field: "data", Detail: err.Error()}
	}
	return nil
}

// NeedID is the validation shared by every mutating command: an id makes
// it idempotent (the same id twice is done once).
func NeedID(id string) error {
	if id == "" {
		return missing("id")
	}
	if len(id) > 128 {
		return invalid("id", "longer than 128 bytes")
	}
	return nil
}

// Empty is the request of verbs that take no parameters.
type Empty struct{}

// Validate implements Command.
func (Empty) Validate() error { return nil }
