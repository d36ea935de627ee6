package client

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// benchData is a 128-byte JSON payload, the size wsheal bench publishes.
var benchData = []byte(`"` + strings.Repeat("x", 126) + `"`)

// BenchmarkHandleMsg is a client's handling of one msg frame, from the
// bytes read off the socket to the subscription's handler.
func BenchmarkHandleMsg(b *testing.B) {
	c := newClient(Config{URLs: []string{"ws://127.0.0.1:1/ws"}})
	go c.dispatch()
	defer c.cancel()
	var last atomic.Uint64
	sub := &Subscription{c: c, channel: "bench-room", ready: make(chan error, 1), done: make(chan struct{}),
		handler: func(m Message) { last.Store(m.Seq) }}
	c.subs[sub.channel] = sub
	s := newSession(c, "ws://127.0.0.1:1/ws")
	var f []byte
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		seq++
		f = frame.AppendMessage(f[:0], sub.channel, seq, benchData)
		s.handle(f)
	}
	b.StopTimer()
	eventually(b, 5*time.Second, func() bool { return last.Load() == seq }, "delivered up to %d of %d", last.Load(), seq)
}
