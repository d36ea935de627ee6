package frame_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

func TestDecodeClient(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"subscribe", `{"op":"subscribe","id":1,"channel":"news"}`, nil},
		{"resume", `{"op":"subscribe","id":1,"channel":"news","since":42}`, nil},
		{"resume with epoch", `{"op":"subscribe","id":1,"channel":"news","since":42,"epoch":"dnbbqzgz6ylb"}`, nil},
		{"epoch without since", `{"op":"subscribe","id":1,"channel":"news","epoch":"dnbbqzgz6ylb"}`, frame.ErrInvalid},
		{"long epoch", `{"op":"subscribe","id":1,"channel":"news","since":1,"epoch":"` + strings.Repeat("e", 33) + `"}`, frame.ErrInvalid},
		{"publish epoch", `{"op":"publish","id":1,"channel":"c","data":1,"epoch":"e"}`, frame.ErrInvalid},
		{"unsubscribe since", `{"op":"unsubscribe","id":1,"channel":"c","since":1}`, frame.ErrInvalid},
		{"publish", `{"op":"publish","id":2,"channel":"news","data":{"a":1},"idem":"k1"}`, nil},
		{"ping", `{"op":"ping"}`, nil},
		{"no op", `{"id":1}`, frame.ErrMissing},
		{"unknown op", `{"op":"shout","id":1}`, frame.ErrUnknownOp},
		{"no id", `{"op":"subscribe","channel":"news"}`, frame.ErrMissing},
		{"no channel", `{"op":"subscribe","id":1}`, frame.ErrMissing},
		{"bad channel", `{"op":"subscribe","id":1,"channel":"a.b"}`, frame.ErrInvalid},
		{"wildcard channel", `{"op":"subscribe","id":1,"channel":">"}`, frame.ErrInvalid},
		{"channel charset", `{"op":"subscribe","id":1,"channel":"a/b"}`, frame.ErrInvalid},
		{"publish no data", `{"op":"publish","id":1,"channel":"c"}`, frame.ErrMissing},
		{"publish bad data", `{"op":"publish","id":1,"channel":"c","data":nope}`, frame.ErrMalformed},
		{"publish since", `{"op":"publish","id":1,"channel":"c","data":1,"since":3}`, frame.ErrInvalid},
		{"subscribe data", `{"op":"subscribe","id":1,"channel":"c","data":1}`, frame.ErrInvalid},
		{"unknown field", `{"op":"subscribe","id":1,"channel":"c","chanel":"d"}`, frame.ErrMalformed},
		{"trailing", `{"op":"ping"}{"op":"ping"}`, frame.ErrMalformed},
		{"negative id", `{"op":"subscribe","id":-1,"channel":"c"}`, frame.ErrMalformed},
		{"long idem", `{"op":"publish","id":1,"channel":"c","data":1,"idem":"` + strings.Repeat("k", 65) + `"}`, frame.ErrInvalid},
		{"binary", "\x00\x01", frame.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := frame.DecodeClient([]byte(tc.in), 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := frame.DecodeClient(make([]byte, 100), 10); !errors.Is(err, frame.ErrTooLarge) {
		t.Fatalf("size limit: %v", err)
	}
}

func TestAppendMessageIsValidJSON(t *testing.T) {
	b := frame.AppendMessage(nil, "chat:1", 42, []byte(`{"text":"hi \"you\""}`))
	f, err := frame.DecodeServer(b)
	if err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if f.Op != frame.OpMessage || f.Channel != "chat:1" || f.Seq != 42 || string(f.Data) != `{"text":"hi \"you\""}` {
		t.Fatalf("decoded %+v", f)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
}

func TestAppendPosition(t *testing.T) {
	b := frame.AppendPosition(nil, "chat:1", 4711)
	if string(b) != `{"op":"pos","channel":"chat:1","seq":4711}` {
		t.Fatalf("encoded %s", b)
	}
	f, err := frame.DecodeServer(b)
	if err != nil || f.Op != frame.OpPosition || f.Channel != "chat:1" || f.Seq != 4711 {
		t.Fatalf("decoded %+v, %v", f, err)
	}
	for _, bad := range []string{`{"op":"pos","seq":3}`, `{"op":"pos","channel":"c"}`, `{"op":"pos","channel":"c","seq":0}`} {
		if _, err := frame.DecodeServer([]byte(bad)); !errors.Is(err, frame.ErrMissing) {
			t.Errorf("%s: %v, want ErrMissing", bad, err)
		}
	}
}

func TestCloseCodes(t *testing.T) {
	seen := map[int]bool{}
	for _, c := range frame.CloseCodes {
		if seen[c.Code] {
			t.Fatalf("code %d twice", c.Code)
		}
		seen[c.Code] = true
		if got := frame.ShouldReconnect(c.Code); got != c.Reconnect {
			t.Errorf("%d %s: ShouldReconnect=%v, table says %v", c.Code, c.Name, got, c.Reconnect)
		}
	}
	if !frame.ShouldReconnect(1006) {
		t.Error("abnormal closure must reconnect")
	}
}

func FuzzDecodeClient(f *testing.F) {
	f.Add([]byte(`{"op":"subscribe","id":1,"channel":"news","since":42}`))
	f.Add([]byte(`{"op":"subscribe","id":1,"channel":"news","since":42,"epoch":"dnbbqzgz6ylb"}`))
	f.Add([]byte(`{"op":"publish","id":2,"channel":"news","data":{"a":[1,2]},"idem":"k"}`))
	f.Add([]byte(`{"op":"ping"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := frame.DecodeClient(b, 0)
		if err != nil {
			return
		}
		if c.Epoch != "" && (c.Op != frame.OpSubscribe || c.Since == nil || len(c.Epoch) > frame.MaxEpoch) {
			t.Fatalf("accepted epoch %q on %+v", c.Epoch, c)
		}
		if c.Op != frame.OpPing {
			if err := frame.ValidateChannel(c.Channel); err != nil {
				t.Fatalf("accepted bad channel %q", c.Channel)
			}
			// An accepted publish must be safe to splice into a msg frame.
			if c.Op == frame.OpPublish {
				out := frame.AppendMessage(nil, c.Channel, 1, c.Data)
				if !json.Valid(out) {
					t.Fatalf("invalid msg frame from accepted publish: %s", out)
				}
			}
		}
	})
}

func FuzzDecodeServer(f *testing.F) {
	f.Add([]byte(`{"op":"hello","node":"gw-1","session":"s","version":1,"ping_interval_ms":5000}`))
	f.Add([]byte(`{"op":"msg","channel":"c","seq":3,"data":{}}`))
	f.Add([]byte(`{"op":"reconnect","after_ms":100,"url":"ws://x/ws"}`))
	f.Add([]byte(`{"op":"pos","channel":"c","seq":9}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := frame.DecodeServer(b)
		if err == nil && (s.Op == frame.OpMessage || s.Op == frame.OpPosition) && (s.Channel == "" || s.Seq == 0) {
			t.Fatal("msg or pos without channel or seq accepted")
		}
	})
}

// TestReplySeqAlways: every reply carries seq, 0 included; other frames
// do not gain it.
func TestReplySeqAlways(t *testing.T) {
	for _, tc := range []struct {
		f    frame.Server
		want bool
	}{
		{frame.Server{Op: frame.OpReply, ID: 1, Channel: "c"}, true},
		{frame.Server{Op: frame.OpReply, ID: 1, Channel: "c", Seq: 7, Epoch: "e"}, true},
		{frame.Server{Op: frame.OpPong, ID: 1}, false},
		{frame.Server{Op: frame.OpError, ID: 1, Code: frame.CodeBadFrame}, false},
	} {
		b := tc.f.Encode()
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if _, ok := m["seq"]; ok != tc.want {
			t.Fatalf("%s: seq present %v, want %v", b, ok, tc.want)
		}
	}
}
