package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// FuzzHandleFrame feeds arbitrary text frames through a real node's frame
// handler over a real socket; after each one the node must still answer a
// ping (on the same connection, or on a new one if the input made it close
// the connection with a documented code).
func FuzzHandleFrame(f *testing.F) {
	seeds := []string{
		`{"op":"ping"}`, `{"op":"subscribe","id":1,"channel":"news"}`,
		`{"op":"subscribe","id":2,"channel":"news","since":0}`,
		`{"op":"publish","id":3,"channel":"news","data":{"a":1},"idem":"x"}`,
		`{"op":"unsubscribe","id":4,"channel":"news"}`, `{"op":"publish","id":5,"channel":"n","data":null}`,
		`{"op":"subscribe","id":6,"channel":"a.b"}`, `{}`, `[]`, `null`, `{"op":1}`, "\xff\xfe", ``,
		`{"op":"subscribe","id":18446744073709551615,"channel":"x","since":18446744073709551615}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	ns := natstest.Start(f)
	cfg := testConfig(ns, "gw-fuzz")
	cfg.PingInterval, cfg.PongDeadline = time.Minute, time.Minute
	s := startNode(f, cfg)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > cfg.MaxMessage {
			return
		}
		c := dial(t, s.URL())
		if err := c.ws.WriteMessage(gws.OpcodeText, in); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := c.ws.WriteString(`{"op":"ping","id":424242}`); err == nil && pongOrClose(c) {
			return
		}
		c.waitClosed(10 * time.Second)
		code := int(c.code.Load())
		// Invalid UTF-8 in a text frame is closed by the WebSocket layer
		// (1007); the peer may see the reset before the close frame.
		if code != frame.CloseBadRequest && (utf8.Valid(in) || (code != 1007 && code != -1)) {
			t.Fatalf("connection closed with code %d after %q", code, in)
		}
		d := dial(t, s.URL()) // the node keeps serving
		d.send(frame.Client{Op: frame.OpPing, ID: 1})
		d.expect(frame.OpPong)
	})
}

// pongOrClose waits for the pong to ping 424242 (true) or the close of
// the connection (false).
func pongOrClose(c *client) bool {
	deadline := time.After(10 * time.Second)
	for {
		select {
		case fr := <-c.frames:
			if fr.Op == frame.OpPong && fr.ID == 424242 {
				return true
			}
		case <-c.closed:
			return false
		case <-deadline:
			c.t.Fatal("no pong and no close")
		}
	}
}

// FuzzCommand sends arbitrary bodies to every control verb of a real node:
// each gets a well-formed reply (ok, or an error with a code) and the node
// keeps answering status.
func FuzzCommand(f *testing.F) {
	seeds := []string{``, `{}`, `{"id":"a"}`, `{"id":"a","select":"all","count":1}`,
		`{"id":"b","max_conns":10}`, `{"id":"c","over_ms":-1}`, `{"conns":true,"limit":2}`,
		`{"id":"d","target":"x.y"}`, `{"id":"e","fraction":2}`, `{"id":"f","reset":true}`, `[1]`, "\x00"}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	ns := natstest.Start(f)
	startNode(f, testConfig(ns, "gw-fcmd"))
	nc := ns.Conn()
	verbs := []string{events.VerbStatus, events.VerbReconnect, events.VerbResize, events.VerbDrain, events.VerbUndrain}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, verb := range verbs {
			msg, err := nc.Request(events.GatewayControlSubject("gw-fcmd", verb), in, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: no reply: %v", verb, err)
			}
			var ce *events.Error
			if err := events.DecodeReply(msg.Data, nil); err != nil && !errors.As(err, &ce) {
				t.Fatalf("%s: reply %q: %v", verb, msg.Data, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := events.Request(ctx, nc, events.GatewayControlSubject("gw-fcmd", events.VerbStatus), nil, nil); err != nil {
			t.Fatalf("status: %v", err)
		}
	})
}
