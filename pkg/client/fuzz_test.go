package client

import (
	"bytes"
	"sync"
	"testing"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// FuzzServerFrames feeds arbitrary frame sequences (one per line) to a
// client's frame handling: it never panics, and the handler sees strictly
// increasing sequences.
func FuzzServerFrames(f *testing.F) {
	lines := [][]byte{
		(&frame.Server{Op: frame.OpHello, Node: "n1", PingIntervalMS: 1000, Version: 1}).Encode(),
		[]byte(`{"op":"reply","id":1,"channel":"room","seq":5,"recovered":false}`),
		[]byte(`{"op":"reply","id":2,"seq":9,"duplicate":true}`),
		[]byte(`{"op":"error","id":1,"code":"unavailable","message":"x"}`),
		[]byte(`{"op":"error","id":2,"code":"forbidden","message":"x"}`),
		[]byte(`{"op":"reconnect","after_ms":-5,"url":"ws://h:1/ws"}`),
		frame.AppendMessage(nil, "room", 7, []byte(`[1,2]`)),
		frame.AppendMessage(nil, "room", 3, []byte(`{}`)),
		[]byte(`{"op":"msg","channel":"room","seq":8,"data":"x"}`),
		[]byte(`{"op":"pong"}`), []byte(`{"op":`), []byte(`[]`),
	}
	f.Add(bytes.Join(lines, []byte("\n")))
	for _, l := range lines {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newClient(Config{URLs: []string{"ws://127.0.0.1:1/ws"}})
		go c.dispatch()
		defer c.cancel()
		var mu sync.Mutex
		var last uint64
		sub := &Subscription{c: c, channel: "room", ready: make(chan error, 1), done: make(chan struct{}),
			handler: func(m Message) {
				mu.Lock()
				defer mu.Unlock()
				if m.Seq <= last {
					t.Errorf("seq %d after %d", m.Seq, last)
				}
				last = m.Seq
			}}
		c.subs["room"] = sub
		c.pending[1] = &request{id: 1, kind: kindSubscribe, sub: sub, since: new(uint64)}
		sub.startResume(c.pending[1])
		c.pending[2] = &request{id: 2, kind: kindPublish, done: make(chan result, 1)}
		s := newSession(c, "ws://127.0.0.1:1/ws")
		for _, line := range bytes.Split(in, []byte("\n")) {
			s.handle(line)
		}
		s.OnClose(nil, nil) // stops the hint timer
	})
}
