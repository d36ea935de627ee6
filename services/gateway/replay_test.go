package gateway

import (
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// publishMany stores messages {"n":from}..{"n":to-1} on channel straight
// into the stream (asynchronous publishes: fast) and returns their
// sequences.
func publishMany(t *testing.T, ns *natstest.Server, channel string, from, to int) []uint64 {
	t.Helper()
	_, js := ns.JetStream()
	seqs := make([]uint64, 0, to-from)
	for chunk := from; chunk < to; chunk += 2000 {
		acks := make([]jetstream.PubAckFuture, 0, 2000)
		for i := chunk; i < min(chunk+2000, to); i++ {
			a, err := js.PublishAsync(events.ChannelSubject(channel), fmt.Appendf(nil, `{"n":%d}`, i))
			if err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
			acks = append(acks, a)
		}
		for i, a := range acks {
			select {
			case ack := <-a.Ok():
				seqs = append(seqs, ack.Sequence)
			case err := <-a.Err():
				t.Fatalf("publish %d: %v", chunk+i, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("publish %d not acknowledged", chunk+i)
			}
		}
	}
	return seqs
}

// reader is a WebSocket client that reads at a set pace: it pauses 1 ms
// every `every` frames (a client that handles about every*1000 frames a
// second), or not at all while gate is held shut.
type reader struct {
	client
	every int
	n     int
	gate  atomic.Bool // true: stop reading (the socket's buffers fill)
}

func (r *reader) OnMessage(ws *gws.Conn, msg *gws.Message) {
	for r.gate.Load() {
		time.Sleep(time.Millisecond)
	}
	if r.n++; r.every > 0 && r.n%r.every == 0 {
		time.Sleep(time.Millisecond)
	}
	r.client.OnMessage(ws, msg)
}

// dialReader connects a paced reader; a stalling one gets a small receive
// buffer, so that the node's queue fills soon.
func dialReader(t *testing.T, addr string, every int, stalling bool) *reader {
	t.Helper()
	r := &reader{client: client{t: t, frames: make(chan frame.Server, 200000), closed: make(chan struct{})}, every: every}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if stalling {
		_ = nc.(*net.TCPConn).SetReadBuffer(16 << 10)
	}
	ws, _, err := gws.NewClientFromConn(r, &gws.ClientOption{Addr: "ws://" + addr + "/ws", ReadMaxPayloadSize: 1 << 20}, nc)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	r.ws = ws
	go ws.ReadLoop()
	t.Cleanup(func() { _ = nc.Close() })
	r.hello = r.expect(frame.OpHello)
	return r
}

// collect reads msg frames until the reply to id, then until want
// messages arrived in all, failing after timeout.
func (r *reader) collect(id uint64, got []frame.Server, want int, timeout time.Duration) ([]frame.Server, frame.Server) {
	r.t.Helper()
	var reply frame.Server
	deadline := time.After(timeout)
	for reply.Op == "" || len(got) < want {
		select {
		case f := <-r.frames:
			switch {
			case f.Op == frame.OpMessage:
				got = append(got, f)
			case f.ID == id && (f.Op == frame.OpReply || f.Op == frame.OpError):
				reply = f
			}
		case <-r.closed:
			r.t.Fatalf("closed with %d after %d messages", r.code.Load(), len(got))
		case <-deadline:
			r.t.Fatalf("%d of %d messages, reply %+v", len(got), want, reply)
		}
	}
	return got, reply
}

// TestResumeLongGap resumes a gap of 50,000 messages through a real
// WebSocket connection whose client reads at a normal pace: far more than
// the send queue holds, so the replay must follow the client. Every
// message arrives once, in order, before the reply (recovered:true), then
// the live flow.
func TestResumeLongGap(t *testing.T) {
	const gap = 50000
	ns := natstest.Start(t)
	node := startNode(t, testConfig(ns, "gw-gap"))
	first := publishMany(t, ns, "long", 0, 1)
	seqs := publishMany(t, ns, "long", 1, gap+1)
	r := dialReader(t, node.Addr(), 50, false)
	if r.hello.Epoch == "" {
		t.Fatalf("hello without epoch: %+v", r.hello)
	}
	start := time.Now()
	id := r.send(frame.Client{Op: frame.OpSubscribe, Channel: "long", Since: &first[0], Epoch: r.hello.Epoch})
	got, reply := r.collect(id, nil, gap, 5*time.Minute)
	took := time.Since(start)
	if reply.Op != frame.OpReply || reply.Recovered == nil || !*reply.Recovered ||
		reply.Seq != seqs[gap-1] || reply.Epoch != r.hello.Epoch {
		t.Fatalf("resume reply = %+v", reply)
	}
	checkFrom(t, got, 1)
	t.Logf("replayed %d messages in %v (%.0f msg/s) at the client's pace", gap, took, gap/took.Seconds())
	live := publishMany(t, ns, "long", gap+1, gap+2)
	if f := r.expect(frame.OpMessage); f.Seq != live[0] {
		t.Fatalf("live message %+v, want seq %d", f, live[0])
	}
}

// TestSlowConsumerResumes: a client that stops reading while messages flow
// is closed with 4002; it reconnects with the last sequence it delivered
// and gets everything after it, once, in order.
func TestSlowConsumerResumes(t *testing.T) {
	const total = 3000
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-slow2")
	cfg.SendQueue, cfg.ReplayWindow = 64, 16
	cfg.PingInterval = time.Minute // the stalled reader answers no pings: slow, not stale
	node := startNode(t, cfg)
	r := dialReader(t, node.Addr(), 0, true)
	if f := r.reply(r.send(frame.Client{Op: frame.OpSubscribe, Channel: "burst"}), nil); f.Op != frame.OpReply {
		t.Fatalf("subscribe = %+v", f)
	}
	r.gate.Store(true)
	publishMany(t, ns, "burst", 0, total)
	r.gate.Store(false)
	if code := r.waitClosed(30 * time.Second); code != frame.CloseSlow {
		t.Fatalf("close code %d, want %d", code, frame.CloseSlow)
	}
	var got []frame.Server
	for len(r.frames) > 0 {
		if f := <-r.frames; f.Op == frame.OpMessage {
			got = append(got, f)
		}
	}
	if len(got) == total {
		t.Fatal("the reader got every message: it was never slow")
	}
	last := uint64(0)
	if len(got) > 0 {
		last = got[len(got)-1].Seq
	}
	again := dialReader(t, node.Addr(), 20, false)
	id := again.send(frame.Client{Op: frame.OpSubscribe, Channel: "burst", Since: &last, Epoch: again.hello.Epoch})
	got, reply := again.collect(id, got, total, time.Minute)
	if reply.Recovered == nil || !*reply.Recovered {
		t.Fatalf("resume reply = %+v", reply)
	}
	checkFrom(t, got, 0)
}

// checkFrom asserts messages n = from, from+1, ... each once, in order.
func checkFrom(t *testing.T, got []frame.Server, from int) {
	t.Helper()
	for i, f := range got {
		var m struct{ N int }
		if err := json.Unmarshal(f.Data, &m); err != nil {
			t.Fatalf("msg %d: %v", i, err)
		}
		if m.N != from+i {
			t.Fatalf("message %d carries n=%d, want %d: lost or duplicated around seq %d", i, m.N, from+i, f.Seq)
		}
	}
}
