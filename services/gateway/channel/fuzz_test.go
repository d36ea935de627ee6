package channel

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

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
