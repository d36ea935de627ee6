package frame

import (
	"bytes"
	"encoding/json"
)

// The fixed parts of a msg frame as AppendMessage writes it.
var (
	msgPrefix  = []byte(`{"op":"msg","channel":"`)
	seqField   = []byte(`","seq":`)
	dataField  = []byte(`,"data":`)
	whitespace = " \t\r\n"
)

// ParseMessage reads a msg frame in the exact layout of AppendMessage
// without a JSON decoder: the fast path a client takes for the frame it
// gets most. It returns ok only when DecodeServer would decode the same
// channel, seq and data from b; anything else (another op or field order,
// escapes in the channel, white space around data, a seq with leading
// zeros or beyond uint64) returns ok false, and the caller decodes b with
// DecodeServer. channel and data alias b. It never panics.
func ParseMessage(b []byte) (channel []byte, seq uint64, data []byte, ok bool) {
	rest, found := bytes.CutPrefix(b, msgPrefix)
	if !found {
		return nil, 0, nil, false
	}
	i := bytes.IndexByte(rest, '"')
	if i <= 0 {
		return nil, 0, nil, false
	}
	channel = rest[:i]
	for _, c := range channel {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, 0, nil, false
		}
	}
	if rest, found = bytes.CutPrefix(rest[i:], seqField); !found {
		return nil, 0, nil, false
	}
	seq, n := parseSeq(rest)
	if n == 0 {
		return nil, 0, nil, false
	}
	if rest, found = bytes.CutPrefix(rest[n:], dataField); !found {
		return nil, 0, nil, false
	}
	if len(rest) < 2 || rest[len(rest)-1] != '}' {
		return nil, 0, nil, false
	}
	data = rest[:len(rest)-1]
	if bytes.IndexByte([]byte(whitespace), data[0]) >= 0 ||
		bytes.IndexByte([]byte(whitespace), data[len(data)-1]) >= 0 || !json.Valid(data) {
		return nil, 0, nil, false
	}
	return channel, seq, data, true
}

// parseSeq reads a JSON positive integer without leading zeros; n is 0
// when there is none or it overflows.
func parseSeq(b []byte) (seq uint64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		d := uint64(b[n] - '0')
		if seq > (^uint64(0)-d)/10 {
			return 0, 0
		}
		seq = seq*10 + d
		n++
	}
	if n == 0 || b[0] == '0' {
		return 0, 0
	}
	return seq, n
}
