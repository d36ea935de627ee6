// Package webhook is the generic JSON webhook sink. Every request carries
// an HMAC-SHA256 signature over its timestamp and body so a receiver can
// check who sent it and refuse replays:
//
//	X-Wsheal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// SignatureHeader carries the signature.
const SignatureHeader = "X-Wsheal-Signature"

// Version of the JSON body.
const Version = "1"

// Body is the JSON the webhook posts.
type Body struct {
	Version string       `json:"version"`
	Message sink.Message `json:"message"`
	Title   string       `json:"title"`
	SentAt  time.Time    `json:"sent_at"`
}

// Sender posts to one URL.
type Sender struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// New returns a sender; secret may be empty (then requests are unsigned).
func New(url, secret string, client *http.Client) *Sender {
	return &Sender{url: url, secret: []byte(secret), client: client, now: time.Now}
}

// Notify implements sink.Sender.
func (s *Sender) Notify(ctx context.Context, m sink.Message) (bool, error) {
	now := s.now()
	body, err := json.Marshal(Body{Version: Version, Message: m, Title: sink.Title(m), SentAt: now.UTC()})
	if err != nil {
		return false, fmt.Errorf("webhook: encode: %w", err)
	}
	h := http.Header{}
	if len(s.secret) > 0 {
		h.Set(SignatureHeader, Sign(s.secret, now, body))
	}
	return sink.Post(ctx, s.client, s.url, body, h)
}

// Sign returns the signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verification errors.
var (
	ErrBadSignature = errors.New("webhook: bad signature")
	ErrStale        = errors.New("webhook: signature timestamp outside tolerance")
)

// Verify checks a signature header against body, accepting timestamps
// within tolerance of now. Receivers use it; it never panics on any input.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: header %q", ErrBadSignature, header)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %v", ErrStale, d)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}
