package suite

import (
	"bytes"
	"strconv"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// The servers of the suite; each but the floor is also the client
// protocol a worker speaks to it (the floor speaks the gws reference's).
const (
	ProtoWsheal     = "wsheal"     // wsheal protocol v1 (docs/protocol.md)
	ProtoGws        = "gws"        // the raw gws reference: "sub <channel>" / "ok <channel>", data frames as is
	ProtoNATS       = "nats"       // the NATS text protocol over NATS's own WebSocket listener
	ProtoCentrifugo = "centrifugo" // Centrifugo's JSON protocol (v2) over WebSocket
	ProtoFloor      = "floor"      // the floor server (floor.go), with the gws reference's client protocol
)

// Servers in table order: wsheal first, then the references.
var Servers = []string{ProtoWsheal, ProtoGws, ProtoNATS, ProtoCentrifugo, ProtoFloor}

// subject is where a channel's traffic rides in NATS for every server:
// wsheal's channel subject, which the references use too.
func subject(channel string) string { return events.ChannelSubject(channel) }

// payloadSize is the size of a benchmark message: a JSON string holding
// the publish time in unix nanoseconds, padded.
const payloadSize = 64

// Payload returns a 64-byte JSON string carrying t.
func Payload(t time.Time) []byte {
	b := make([]byte, 0, payloadSize)
	b = append(b, '"')
	b = strconv.AppendInt(b, t.UnixNano(), 10)
	b = append(b, '-')
	for len(b) < payloadSize-1 {
		b = append(b, 'x')
	}
	return append(b, '"')
}

// stampOf reads the publish time of a payload (starting with its quote);
// ok is false for anything else.
func stampOf(p []byte) (int64, bool) {
	if len(p) < 21 || p[0] != '"' {
		return 0, false
	}
	var v int64
	for _, c := range p[1:20] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

var dataKey = []byte(`"data":`)

// wshealStamp finds the payload of a wsheal msg frame.
func wshealStamp(f []byte) (int64, bool) {
	i := bytes.Index(f, dataKey)
	if i < 0 {
		return 0, false
	}
	return stampOf(f[i+len(dataKey):])
}

// natsEvent is what a NATS parser step found.
type natsEvent int

const (
	natsNone natsEvent = iota
	natsInfo
	natsPing
	natsPong
	natsMsg
	natsErr
)

// natsParser splits a NATS server byte stream (which WebSocket frames cut
// anywhere) into operations.
type natsParser struct {
	buf []byte
	off int
}

// feed appends the bytes of one frame.
func (p *natsParser) feed(b []byte) {
	if p.off > 0 {
		p.buf = p.buf[:copy(p.buf, p.buf[p.off:])]
		p.off = 0
	}
	p.buf = append(p.buf, b...)
}

// next returns the next complete operation in the buffered stream and,
// for MSG, the publish time its payload carries (ok false if none);
// natsNone when more bytes are needed.
func (p *natsParser) next() (ev natsEvent, stamp int64, ok bool) {
	for {
		b := p.buf[p.off:]
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return natsNone, 0, false
		}
		line, rest := b[:i], i+2
		switch {
		case bytes.HasPrefix(line, []byte("MSG ")):
			fields := bytes.Fields(line)
			n, err := strconv.Atoi(string(fields[len(fields)-1]))
			if err != nil || n < 0 || len(fields) < 4 {
				p.off += rest
				return natsErr, 0, false
			}
			if len(b) < rest+n+2 {
				return natsNone, 0, false
			}
			stamp, ok = stampOf(b[rest : rest+n])
			p.off += rest + n + 2
			return natsMsg, stamp, ok
		case bytes.HasPrefix(line, []byte("PING")):
			ev = natsPing
		case bytes.HasPrefix(line, []byte("PONG")):
			ev = natsPong
		case bytes.HasPrefix(line, []byte("INFO")):
			ev = natsInfo
		case bytes.HasPrefix(line, []byte("-ERR")):
			ev = natsErr
		default: // +OK and anything else
			p.off += rest
			continue
		}
		p.off += rest
		return ev, 0, false
	}
}
