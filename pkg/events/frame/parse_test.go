package frame_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// Channels, sequences and payloads the round trips combine: the shortest
// and longest channels, sequences at every digit count's edge, and JSON
// values of every kind as a publish may carry them.
var (
	tripChannels = []string{"c", "chat:r-1@x", "A_b-9", strings.Repeat("z", 128)}
	tripSeqs     = []uint64{1, 9, 10, 4711, 1<<53 + 1, math.MaxUint64}
	tripData     = []string{
		`{}`, `[]`, `{"a":1}`, `[1,2,{"b":[null,true,false]}]`, `{"nested":{"deep":[[[]]]}}`,
		`"s"`, `""`, `"hi \"you\" \\ \u00e9 é \ud83d\ude00"`, `null`, `true`, `false`,
		`0`, `-1.5e-3`, `18446744073709551616`, `"` + strings.Repeat("x", 60000) + `"`,
	}
)

// TestMessageRoundTrip: every msg frame AppendMessage writes, and the
// same frame from Server.Encode, is read back by ParseMessage (the fast
// path takes it) and by DecodeServer with the channel, seq and data that
// went in.
func TestMessageRoundTrip(t *testing.T) {
	for _, ch := range tripChannels {
		for _, seq := range tripSeqs {
			for _, data := range tripData {
				in := frame.Server{Op: frame.OpMessage, Channel: ch, Seq: seq, Data: json.RawMessage(data)}
				for name, b := range map[string][]byte{
					"AppendMessage": frame.AppendMessage(nil, ch, seq, []byte(data)),
					"Encode":        in.Encode(),
				} {
					gotCh, gotSeq, gotData, ok := frame.ParseMessage(b)
					if !ok || string(gotCh) != ch || gotSeq != seq || string(gotData) != data {
						t.Fatalf("%s %.80s: ParseMessage = %q, %d, %.40q, %v", name, b, gotCh, gotSeq, gotData, ok)
					}
					if f, err := frame.DecodeServer(b); err != nil || !reflect.DeepEqual(f, in) {
						t.Fatalf("%s %.80s: DecodeServer = %+v, %v", name, b, f, err)
					}
				}
			}
		}
	}
}

// TestPositionRoundTrip: every pos frame AppendPosition writes decodes to
// the channel and seq that went in, and is no msg frame to the fast path.
func TestPositionRoundTrip(t *testing.T) {
	for _, ch := range tripChannels {
		for _, seq := range tripSeqs {
			b := frame.AppendPosition(nil, ch, seq)
			want := frame.Server{Op: frame.OpPosition, Channel: ch, Seq: seq}
			if f, err := frame.DecodeServer(b); err != nil || !reflect.DeepEqual(f, want) {
				t.Fatalf("%s: DecodeServer = %+v, %v", b, f, err)
			}
			if _, _, _, ok := frame.ParseMessage(b); ok {
				t.Fatalf("%s: taken for a msg frame", b)
			}
		}
	}
}

// TestEncodeRoundTrip: every server frame Encode writes, with each field
// its op carries, decodes to the frame that went in.
func TestEncodeRoundTrip(t *testing.T) {
	yes, no := true, false
	for _, in := range []frame.Server{
		{Op: frame.OpHello, Node: "gw-1", Session: "s-1", Version: frame.ProtocolVersion, PingIntervalMS: 5000, Epoch: "dnbbqzgz6ylb"},
		{Op: frame.OpReply, ID: 1, Channel: "news", Epoch: "dnbbqzgz6ylb", Recovered: &no},
		{Op: frame.OpReply, ID: 1, Channel: "news", Seq: 42, Epoch: "dnbbqzgz6ylb", Recovered: &yes},
		{Op: frame.OpReply, ID: 2, Channel: "news", Seq: math.MaxUint64, Duplicate: true},
		{Op: frame.OpReply, ID: math.MaxUint64},
		{Op: frame.OpMessage, Channel: "news", Seq: 7, Data: json.RawMessage(`{"a":[1,2]}`)},
		{Op: frame.OpError, ID: 3, Code: frame.CodeForbidden, Message: `channel "x" <not allowed> & é`},
		{Op: frame.OpError, Code: frame.CodeBadFrame, Message: "no id: about the connection"},
		{Op: frame.OpReconnect, AfterMS: 1500, URL: "ws://gw-2:8080/v1/ws?v=1&x=<y>", Reason: "drain"},
		{Op: frame.OpPong, ID: 4},
		{Op: frame.OpPosition, Channel: "news", Seq: 4711},
	} {
		b := in.Encode()
		if f, err := frame.DecodeServer(b); err != nil || !reflect.DeepEqual(f, in) {
			t.Fatalf("%s: DecodeServer = %+v, %v; want %+v", b, f, err, in)
		}
		if _, _, _, ok := frame.ParseMessage(b); ok != (in.Op == frame.OpMessage) {
			t.Fatalf("%s: fast path took it %v", b, ok)
		}
	}
}

// FuzzParseMessage: the msg fast path agrees with DecodeServer on every
// input it accepts.
func FuzzParseMessage(f *testing.F) {
	f.Add(frame.AppendMessage(nil, "room", 1, []byte(`{"a":1}`)))
	f.Add(frame.AppendMessage(nil, "chat:r-1@x", 18446744073709551615, []byte(`"s"`)))
	f.Add([]byte(`{"op":"msg","channel":"a","seq":01,"data":1}`))
	f.Add([]byte(`{"op":"msg","channel":"a","seq":1,"data":1,"seq":2}`))
	f.Add([]byte(`{"op":"msg","channel":"a\u0062","seq":1,"data":null}`))
	f.Add([]byte(`{"op":"msg","channel":"a","seq":1,"data": 1 }`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, seq, data, ok := frame.ParseMessage(b)
		if !ok {
			return
		}
		fr, err := frame.DecodeServer(b)
		if err != nil {
			t.Fatalf("fast path took %q, DecodeServer refused it: %v", b, err)
		}
		if fr.Op != frame.OpMessage || fr.Channel != string(ch) || fr.Seq != seq || !bytes.Equal(fr.Data, data) {
			t.Fatalf("fast path %q/%d/%q, DecodeServer %+v", ch, seq, data, fr)
		}
	})
}

// FuzzParseAppended: whatever valid channel, seq and JSON value go into
// AppendMessage and AppendPosition, DecodeServer reads them back, and the
// fast path takes every msg frame whose data has no white space at its
// edges, with the same channel, seq and data.
func FuzzParseAppended(f *testing.F) {
	f.Add("room", uint64(1), []byte(`{"a":1}`))
	f.Add("chat:r-1@x", uint64(math.MaxUint64), []byte(`"s\u0000"`))
	f.Add("c", uint64(10), []byte(" [1, 2]\n"))
	f.Fuzz(func(t *testing.T, ch string, seq uint64, data []byte) {
		if frame.ValidateChannel(ch) != nil || seq == 0 || !json.Valid(data) {
			return // no frame a gateway writes
		}
		b := frame.AppendMessage(nil, ch, seq, data)
		fr, err := frame.DecodeServer(b)
		trimmed := bytes.Trim(data, " \t\r\n")
		if err != nil || fr.Op != frame.OpMessage || fr.Channel != ch || fr.Seq != seq || !bytes.Equal(fr.Data, trimmed) {
			t.Fatalf("%q: DecodeServer = %+v, %v", b, fr, err)
		}
		gotCh, gotSeq, gotData, ok := frame.ParseMessage(b)
		if ok != (len(trimmed) == len(data)) {
			t.Fatalf("%q: fast path took it %v", b, ok)
		}
		if ok && (string(gotCh) != ch || gotSeq != seq || !bytes.Equal(gotData, data)) {
			t.Fatalf("%q: ParseMessage = %q, %d, %q", b, gotCh, gotSeq, gotData)
		}
		b = frame.AppendPosition(nil, ch, seq)
		if fr, err := frame.DecodeServer(b); err != nil || !reflect.DeepEqual(fr, frame.Server{Op: frame.OpPosition, Channel: ch, Seq: seq}) {
			t.Fatalf("%q: DecodeServer = %+v, %v", b, fr, err)
		}
	})
}

// benchData is a 128-byte JSON payload, the size wsheal bench publishes.
var benchData = []byte(`"` + strings.Repeat("x", 126) + `"`)

// BenchmarkParseMessage is the msg fast path alone on a frame as the
// gateway writes it.
func BenchmarkParseMessage(b *testing.B) {
	f := frame.AppendMessage(nil, "bench-room", 1234567, benchData)
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok := frame.ParseMessage(f); !ok {
			b.Fatal("fast path refused the frame")
		}
	}
}
