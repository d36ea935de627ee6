package suite

import (
	"bytes"
	"strconv"
	"time"

	"github.com/lxzan/gws"
)

// wconn is one client connection of a worker; its gws events run on its
// read goroutine.
type wconn struct {
	gws.BuiltinEventHandler
	w     *worker
	ws    *gws.Conn
	proto string
	token string
	index int

	ready    chan struct{} // closed once the server accepted the connection
	welcomed bool          // read goroutine only
	acks     chan bool     // one per subscribe answer: true ok, false error
	nextID   int           // subscribe ids (wsheal) / sids (NATS)
	nats     natsParser
}

var (
	opMsg   = []byte(`{"op":"msg"`)
	opHello = []byte(`{"op":"hello"`)
	opReply = []byte(`{"op":"reply"`)
	opError = []byte(`{"op":"error"`)
	okGws   = []byte("ok ")
)

// subscribe sends a subscription; its answer arrives on acks. Called from
// the worker's command goroutine only.
func (c *wconn) subscribe(channel string) {
	c.nextID++
	var err error
	switch c.proto {
	case ProtoWsheal:
		err = c.ws.WriteString(`{"op":"subscribe","id":` + strconv.Itoa(c.nextID) + `,"channel":"` + channel + `"}`)
	case ProtoGws:
		err = c.ws.WriteString("sub " + channel)
	case ProtoNATS:
		err = c.ws.WriteMessage(gws.OpcodeBinary,
			[]byte("SUB "+subject(channel)+" "+strconv.Itoa(c.nextID)+"\r\nPING\r\n"))
	case ProtoCentrifugo:
		err = c.ws.WriteString(cfSubscribe(c.nextID, channel))
	}
	if err != nil {
		c.ack(false)
	}
}

func (c *wconn) ack(ok bool) {
	select {
	case c.acks <- ok:
	default:
	}
}

func (c *wconn) welcome() {
	if !c.welcomed {
		c.welcomed = true
		close(c.ready)
	}
}

// deliver counts a channel message and records its latency.
func (c *wconn) deliver(stamp int64) {
	c.w.delivered.Add(1)
	if c.w.latOn.Load() {
		c.w.hist.Record(time.Duration(time.Now().UnixNano() - stamp))
	}
}

// OnPing implements gws.Event: answer every server ping.
func (c *wconn) OnPing(ws *gws.Conn, payload []byte) { _ = ws.WritePong(payload) }

// OnClose implements gws.Event: a pending subscribe fails.
func (c *wconn) OnClose(*gws.Conn, error) { c.ack(false) }

// OnMessage implements gws.Event.
func (c *wconn) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	b := m.Bytes()
	switch c.proto {
	case ProtoWsheal:
		c.onWsheal(b)
	case ProtoGws:
		if st, ok := stampOf(b); ok {
			c.deliver(st)
		} else if bytes.HasPrefix(b, okGws) {
			c.ack(true)
		}
	case ProtoNATS:
		c.onNATS(ws, b)
	case ProtoCentrifugo:
		c.onCentrifugo(ws, b)
	}
}

func (c *wconn) onWsheal(b []byte) {
	switch {
	case bytes.HasPrefix(b, opMsg):
		if st, ok := wshealStamp(b); ok {
			c.deliver(st)
		}
	case bytes.HasPrefix(b, opReply):
		c.ack(true)
	case bytes.HasPrefix(b, opError):
		c.ack(false)
	case bytes.HasPrefix(b, opHello):
		c.welcome()
	}
}

func (c *wconn) onNATS(ws *gws.Conn, b []byte) {
	c.nats.feed(b)
	for {
		ev, st, ok := c.nats.next()
		switch ev {
		case natsNone:
			return
		case natsMsg:
			if ok {
				c.deliver(st)
			}
		case natsInfo:
			connect := `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"lang":"suite","version":"1"`
			if c.token != "" {
				connect += `,"auth_token":"` + c.token + `"`
			}
			_ = ws.WriteMessage(gws.OpcodeBinary, []byte(connect+"}\r\nPING\r\n"))
		case natsPing:
			_ = ws.WriteMessage(gws.OpcodeBinary, []byte("PONG\r\n"))
		case natsPong:
			if c.welcomed {
				c.ack(true)
			}
			c.welcome()
		case natsErr:
			c.ack(false)
		}
	}
}
