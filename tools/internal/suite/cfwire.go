package suite

import (
	"bytes"
	"strconv"

	"github.com/lxzan/gws"
)

// The worker's side of Centrifugo's JSON protocol (client protocol v2):
// one JSON object per line, several lines to a frame; commands carry an
// id which their reply repeats; pushes carry none; an empty object is a
// ping, answered by an empty object.

// cfConnectID is the id of the connect command; subscribes count on.
const cfConnectID = 1

var (
	cfPing  = []byte("{}")
	cfPush  = []byte(`{"push":`)
	cfPub   = []byte(`"pub":`)
	cfID    = []byte(`{"id":`)
	cfError = []byte(`,"error":`)
)

// cfConnect sends the connect command with the connection's token; the
// reply welcomes the connection.
func (c *wconn) cfConnect() error {
	c.nextID = cfConnectID
	return c.ws.WriteString(`{"id":` + strconv.Itoa(cfConnectID) + `,"connect":{"token":"` + c.token + `","name":"suite"}}`)
}

// cfSubscribe is the subscribe command for channel.
func cfSubscribe(id int, channel string) string {
	return `{"id":` + strconv.Itoa(id) + `,"subscribe":{"channel":"` + centrifugoChannel(channel) + `"}}`
}

// onCentrifugo reads one frame of Centrifugo's.
func (c *wconn) onCentrifugo(ws *gws.Conn, b []byte) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		c.cfLine(ws, line)
	}
}

func (c *wconn) cfLine(ws *gws.Conn, line []byte) {
	switch {
	case bytes.Equal(line, cfPing):
		_ = ws.WriteString("{}")
	case bytes.HasPrefix(line, cfPush):
		if bytes.Contains(line, cfPub) {
			if st, ok := wshealStamp(line); ok {
				c.deliver(st)
			}
		}
	case bytes.HasPrefix(line, cfID):
		rest := line[len(cfID):]
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		id, err := strconv.Atoi(string(rest[:end]))
		failed := err != nil || bytes.HasPrefix(rest[end:], cfError)
		switch {
		case id == cfConnectID && !failed:
			c.welcome()
		case id != cfConnectID:
			c.ack(!failed)
		}
	}
}
