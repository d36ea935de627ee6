package bench

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// payload is what the publisher sends: its send time (unix nanos) and the
// publisher's sequence on the channel, padded to the configured size.
type payload struct {
	TS  int64  `json:"ts"`
	N   uint64 `json:"n"`
	Pad string `json:"pad,omitempty"`
}

// encodePayload builds {"ts":..,"n":..,"pad":"xxx"} of about size bytes.
func encodePayload(ts int64, n uint64, size int) []byte {
	b := make([]byte, 0, max(size, 48))
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendUint(b, n, 10)
	if pad := size - len(b) - len(`,"pad":""}`); pad > 0 {
		b = append(b, `,"pad":"`...)
		b = append(b, strings.Repeat("x", pad)...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// decodePayload reads ts and n, by hand for the layout encodePayload
// writes and with encoding/json for anything else.
func decodePayload(b []byte) (ts int64, n uint64, ok bool) {
	if rest, found := bytes.CutPrefix(b, []byte(`{"ts":`)); found {
		i := bytes.IndexByte(rest, ',')
		if i > 0 {
			t, err1 := strconv.ParseInt(string(rest[:i]), 10, 64)
			if r2, found := bytes.CutPrefix(rest[i:], []byte(`,"n":`)); found && err1 == nil {
				j := bytes.IndexAny(r2, ",}")
				if j > 0 {
					if v, err := strconv.ParseUint(string(r2[:j]), 10, 64); err == nil {
						return t, v, true
					}
				}
			}
		}
	}
	var p payload
	if err := json.Unmarshal(b, &p); err != nil || p.N == 0 {
		return 0, 0, false
	}
	return p.TS, p.N, true
}
