package channel

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// FuzzMessageData: whatever payload arrives on a channel subject, the msg
// frame built from it is valid JSON that a client decodes, and a JSON
// payload is carried unchanged.
func FuzzMessageData(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `"x"`, `1`, ` [true] `, ``, `hello`, "\xff\xfe", "\"\xff\"", `{"a":`, `null`, "\"\\u00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		data, quoted := messageData(payload)
		if quoted == (json.Valid(payload) && utf8.Valid(payload)) {
			t.Fatalf("quoted = %v for %q", quoted, payload)
		}
		if !quoted && !bytes.Equal(data, payload) {
			t.Fatalf("JSON payload changed: %q -> %q", payload, data)
		}
		b := frame.AppendMessage(nil, "fuzz:ch", 42, data)
		if !utf8.Valid(b) {
			t.Fatalf("frame %q is not UTF-8: a text frame must be", b)
		}
		if !json.Valid(b) {
			t.Fatalf("invalid frame %q", b)
		}
		fr, err := frame.DecodeServer(b)
		if err != nil || fr.Op != frame.OpMessage || fr.Channel != "fuzz:ch" || fr.Seq != 42 {
			t.Fatalf("frame %q decodes to %+v, %v", b, fr, err)
		}
		if quoted {
			var s string
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatalf("quoted payload %q is not a JSON string: %v", data, err)
			}
		}
	})
}

// FuzzParseDirect: whatever headers a direct get answers with, parseDirect
// never panics, and a stored message it accepts has a sequence.
func FuzzParseDirect(f *testing.F) {
	f.Add("", "12", "3")
	f.Add("204", "", "0")
	f.Add("404", "", "")
	f.Add("", "0", "")
	f.Add("", "-1", "x")
	f.Add("408", "18446744073709551616", "")
	f.Fuzz(func(t *testing.T, status, seq, pending string) {
		h := nats.Header{}
		for k, v := range map[string]string{hdrStatus: status, hdrSequence: seq, hdrNumPending: pending} {
			if v != "" {
				h.Set(k, v)
			}
		}
		r, err := parseDirect(h)
		if err == nil && r.status == "" && r.seq == 0 {
			t.Fatalf("accepted a stored message without a sequence: %+v", h)
		}
	})
}

// FuzzParseLive: whatever headers a live message carries, parseLive never
// panics, and what it accepts has a sequence above the previous one.
func FuzzParseLive(f *testing.F) {
	f.Add("12", "3")
	f.Add("1", "0")
	f.Add("1", "")
	f.Add("5", "5")
	f.Add("", "1")
	f.Add("x", "-2")
	f.Fuzz(func(t *testing.T, seq, prev string) {
		h := nats.Header{}
		h.Set(hdrSequence, seq)
		if prev != "" {
			h.Set(hdrLastSeq, prev)
		}
		s, p, err := parseLive(h)
		if err == nil && (s == 0 || p >= s) {
			t.Fatalf("accepted seq %d after %d from %+v", s, p, h)
		}
	})
}
