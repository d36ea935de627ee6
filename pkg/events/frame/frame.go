// Package frame is wsheal's client protocol v1: the JSON text frames a
// WebSocket client and a gateway exchange, and the close codes that tell a
// client whether to reconnect. docs/protocol.md is its prose.
//
// Client to server: subscribe, unsubscribe, publish, ping.
// Server to client: hello, reply, msg, error, reconnect, pong, pos.
//
// Both halves of each side's codec live here. A gateway decodes client
// frames with DecodeClient and writes its own with Server.Encode,
// AppendMessage and AppendPosition; a client reads them back with
// ParseMessage (the fast path for msg frames as AppendMessage writes
// them) and DecodeServer (every frame).
package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/wsheal/wsheal/pkg/events"
)

// ProtocolVersion is sent in the hello frame and may be asked for with the
// "v" query parameter of the upgrade URL.
const ProtocolVersion = 1

// Ops of client frames.
const (
	OpSubscribe   = "subscribe"
	OpUnsubscribe = "unsubscribe"
	OpPublish     = "publish"
	OpPing        = "ping"
)

// Ops of server frames.
const (
	OpHello     = "hello"
	OpReply     = "reply"
	OpMessage   = "msg"
	OpError     = "error"
	OpReconnect = "reconnect"
	OpPong      = "pong"
	// OpPosition moves a subscriber's position on a quiet channel: the
	// channel has no message after the subscriber's position up to seq.
	OpPosition = "pos"
)

// DefaultMaxSize is the default bound of a client frame (64 KiB).
const DefaultMaxSize = 64 << 10

// Errors of DecodeClient and DecodeServer; each is wrapped with detail.
var (
	ErrMalformed = errors.New("frame: malformed")
	ErrTooLarge  = errors.New("frame: too large")
	ErrUnknownOp = errors.New("frame: unknown op")
	ErrMissing   = errors.New("frame: missing field")
	ErrInvalid   = errors.New("frame: invalid field")
)

// Client is a frame from a client.
type Client struct {
	Op      string `json:"op"`
	ID      uint64 `json:"id,omitempty"`      // echoed in the reply
	Channel string `json:"channel,omitempty"` // subscribe, unsubscribe, publish
	// Since resumes a subscription after this stream sequence: the last
	// one the client delivered. Absent: live only.
	Since *uint64 `json:"since,omitempty"`
	// Epoch is the channel stream's identity the since position belongs
	// to (from the hello or the subscribe reply). Absent: the node's
	// current epoch (protocol v1 clients). Only with since.
	Epoch string `json:"epoch,omitempty"`
	// Data is the published JSON value.
	Data json.RawMessage `json:"data,omitempty"`
	// Idem is the publish's idempotency id: a retry with the same id is
	// stored once (within the stream's duplicate window, 2 minutes).
	Idem string `json:"idem,omitempty"`
}

// DecodeClient strictly decodes a client frame of at most max bytes
// (DefaultMaxSize if max <= 0). It never panics.
func DecodeClient(b []byte, max int) (Client, error) {
	var f Client
	if max <= 0 {
		max = DefaultMaxSize
	}
	if len(b) > max {
		return f, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(b), max)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return f, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return f, f.validate()
}

func (f *Client) validate() error {
	switch f.Op {
	case OpPing:
		return nil
	case OpSubscribe, OpUnsubscribe, OpPublish:
	case "":
		return fmt.Errorf("%w: op", ErrMissing)
	default:
		return fmt.Errorf("%w: %q", ErrUnknownOp, f.Op)
	}
	if f.ID == 0 {
		return fmt.Errorf("%w: id", ErrMissing)
	}
	if err := ValidateChannel(f.Channel); err != nil {
		return err
	}
	if f.Op != OpPublish {
		if f.Data != nil || f.Idem != "" {
			return fmt.Errorf("%w: data and idem belong to publish", ErrInvalid)
		}
		return f.validatePosition()
	}
	if f.Since != nil || f.Epoch != "" {
		return fmt.Errorf("%w: since and epoch belong to subscribe", ErrInvalid)
	}
	if len(f.Data) == 0 {
		return fmt.Errorf("%w: data", ErrMissing)
	}
	if len(f.Idem) > 64 {
		return fmt.Errorf("%w: idem longer than 64 bytes", ErrInvalid)
	}
	return nil
}

// MaxEpoch is the longest epoch a client may send.
const MaxEpoch = 32

// validatePosition checks since and epoch of a subscribe or unsubscribe.
func (f *Client) validatePosition() error {
	switch {
	case f.Op == OpUnsubscribe && (f.Since != nil || f.Epoch != ""):
		return fmt.Errorf("%w: since and epoch belong to subscribe", ErrInvalid)
	case f.Epoch != "" && f.Since == nil:
		return fmt.Errorf("%w: epoch goes with since", ErrInvalid)
	case len(f.Epoch) > MaxEpoch:
		return fmt.Errorf("%w: epoch longer than %d bytes", ErrInvalid, MaxEpoch)
	}
	return nil
}

// ValidateChannel checks a channel name: one subject token of at most 128
// bytes, limited to letters, digits and "-_:@".
func ValidateChannel(ch string) error {
	if ch == "" {
		return fmt.Errorf("%w: channel", ErrMissing)
	}
	if err := events.ValidateToken(ch); err != nil {
		return fmt.Errorf("%w: channel: %v", ErrInvalid, err)
	}
	for i := 0; i < len(ch); i++ {
		c := ch[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':' || c == '@') {
			return fmt.Errorf("%w: channel %q: only letters, digits and -_:@", ErrInvalid, ch)
		}
	}
	return nil
}

// Server is any frame from a gateway; which fields are set depends on Op.
type Server struct {
	Op string `json:"op"`

	// hello
	Node           string `json:"node,omitempty"`
	Session        string `json:"session,omitempty"`
	Version        int    `json:"version,omitempty"`
	PingIntervalMS int64  `json:"ping_interval_ms,omitempty"`
	// Epoch (hello, reply to subscribe) is the channel stream's identity:
	// a position (epoch, seq) resumes only against the same epoch.
	Epoch string `json:"epoch,omitempty"`

	// reply, error
	ID uint64 `json:"id,omitempty"`

	// reply, msg. Encode writes seq on every reply, 0 included: on a
	// subscribe reply it is the position the subscriber stands at (0 on
	// an empty channel), on a publish reply the message's sequence.
	Channel string `json:"channel,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`

	// reply to subscribe with since: whether the gap was replayed in full.
	Recovered *bool `json:"recovered,omitempty"`
	// reply to publish: the publish was a retry already stored.
	Duplicate bool `json:"duplicate,omitempty"`

	// msg
	Data json.RawMessage `json:"data,omitempty"`

	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`

	// reconnect
	AfterMS int64  `json:"after_ms,omitempty"`
	URL     string `json:"url,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// DecodeServer decodes a gateway frame for a client. It tolerates unknown
// fields (servers may add some) and never panics.
func DecodeServer(b []byte) (Server, error) {
	var f Server
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch f.Op {
	case OpHello, OpReply, OpError, OpReconnect, OpPong:
	case OpMessage, OpPosition:
		if f.Channel == "" || f.Seq == 0 {
			return f, fmt.Errorf("%w: %s needs channel and seq", ErrMissing, f.Op)
		}
	case "":
		return f, fmt.Errorf("%w: op", ErrMissing)
	default:
		return f, fmt.Errorf("%w: %q", ErrUnknownOp, f.Op)
	}
	return f, nil
}

// Encode marshals a server frame. A reply always carries seq, 0 included
// (the field is omitted when empty on every other op).
func (f *Server) Encode() []byte {
	b, _ := json.Marshal(f) // no field can fail to marshal
	if f.Op == OpReply && f.Seq == 0 {
		b = append(b[:len(b)-1], `,"seq":0}`...)
	}
	return b
}

// AppendMessage appends the msg frame of a channel message to dst. It is
// the hot path of fan-out: the gateway encodes each message once and
// writes the same bytes to every subscriber. data must be valid JSON.
func AppendMessage(dst []byte, channel string, seq uint64, data []byte) []byte {
	dst = append(dst, `{"op":"msg","channel":"`...)
	dst = append(dst, channel...) // validated: no characters to escape
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

// AppendPosition appends the pos frame of channel at seq to dst: the
// channel has no message after the subscriber's position up to seq.
func AppendPosition(dst []byte, channel string, seq uint64) []byte {
	dst = append(dst, `{"op":"pos","channel":"`...)
	dst = append(dst, channel...) // validated: no characters to escape
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, '}')
}

// Error codes carried by error frames.
const (
	CodeBadFrame      = "bad_frame"
	CodeUnknownOp     = "unknown_op"
	CodeForbidden     = "forbidden"
	CodeRateLimited   = "rate_limited" // reserved: over the inbound rate a connection is closed with 4005
	CodeTooLarge      = "too_large"
	CodeNotSubscribed = "not_subscribed"
	CodeUnavailable   = "unavailable" // NATS or JetStream not reachable: retry
	CodeInternal      = "internal"
)
