package pool

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// panicHandler panics on the message "boom" and hands opened connections
// to the test.
type panicHandler struct{ openHandler }

func (h panicHandler) Message(_ *Conn, data []byte) {
	if string(data) == "boom" {
		panic("handler bug")
	}
}

// peer is a client that records its close code and may leave pings
// unanswered.
type peer struct {
	gws.BuiltinEventHandler
	answer bool
	code   atomic.Int32
	closed chan struct{}
}

func (p *peer) OnPing(ws *gws.Conn, payload []byte) {
	if p.answer {
		_ = ws.WritePong(payload)
	}
}

func (p *peer) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		p.code.Store(int32(ce.Code))
	}
	close(p.closed)
}

func startHostile(t *testing.T, cfg Limits) (*Pool, openHandler, string) {
	t.Helper()
	h := panicHandler{openHandler{opened: make(chan *Conn, 4)}}
	cfg.MaxConns, cfg.AcceptRate, cfg.AcceptBurst, cfg.MaxMessage = 10, 100, 10, 1<<20
	if cfg.PingInterval == 0 {
		cfg.PingInterval, cfg.PongDeadline = time.Minute, time.Minute
	}
	p := New(cfg, h, nil, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go p.Run(ctx)
	return p, h.openHandler, upgradeServer(t, p)
}

func dialPeer(t *testing.T, url string, answer, read bool) (*peer, *gws.Conn) {
	t.Helper()
	pr := &peer{answer: answer, closed: make(chan struct{})}
	ws, _, err := gws.NewClient(pr, &gws.ClientOption{Addr: url, ReadMaxPayloadSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if read {
		go ws.ReadLoop()
	}
	t.Cleanup(func() { _ = ws.NetConn().Close() })
	return pr, ws
}

func waitClose(t *testing.T, pr *peer, want int) {
	t.Helper()
	select {
	case <-pr.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("not closed within 10s (want %d)", want)
	}
	if got := int(pr.code.Load()); got != want {
		t.Fatalf("close code %d, want %d", got, want)
	}
}

// TestUnsolicitedPongsDoNotKeepAlive: a peer that never answers the
// gateway's ping but sends empty and forged pongs is still stale.
func TestUnsolicitedPongsDoNotKeepAlive(t *testing.T) {
	p, h, url := startHostile(t, Limits{PingInterval: 50 * time.Millisecond, PongDeadline: 300 * time.Millisecond})
	pr, ws := dialPeer(t, url, false, true)
	c := h.conn(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		forged := []byte{0, 0, 0, 0, 0, 0, 0, 1}
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				_ = ws.WritePong(nil)
				_ = ws.WritePong(forged)
			}
		}
	}()
	waitClose(t, pr, frame.CloseStale)
	// The peer may read the close frame before the scanner counts it.
	eventually(t, func() bool { return p.Totals().Stale > 0 }, "counted as stale")
	if p.Totals().Stale != 1 || c.RTT() != 0 {
		t.Fatalf("stale = %d, rtt = %v: a pong that echoes no ping answered it", p.Totals().Stale, c.RTT())
	}
}

// TestEchoedPongMeasuresRTT: a pong echoing the ping answers it.
func TestEchoedPongMeasuresRTT(t *testing.T) {
	p, h, url := startHostile(t, Limits{PingInterval: 20 * time.Millisecond, PongDeadline: time.Second})
	dialPeer(t, url, true, true)
	c := h.conn(t)
	eventually(t, func() bool { return c.RTT() > 0 }, "a round trip measured")
	if p.Totals().Stale != 0 {
		t.Fatal("an answering peer went stale")
	}
}

// TestControlFloodRateLimited: pings count against the inbound rate. The
// 100 pings leave in one write that the gateway reads at once, so that its
// close is not turned into a reset by unread data.
func TestControlFloodRateLimited(t *testing.T) {
	_, _, url := startHostile(t, Limits{InboundRate: 10, InboundBurst: 20})
	pr, ws := dialPeer(t, url, true, true)
	ping := []byte{0x89, 0x81, 0, 0, 0, 0, 'x'} // masked with a zero key
	if _, err := ws.NetConn().Write(bytes.Repeat(ping, 100)); err != nil {
		t.Fatal(err)
	}
	waitClose(t, pr, frame.CloseRateLimited)
}

// TestPingFloodOnePongPending: a peer that sends pings and never reads
// is owed one pong, not one per ping: 100 000 pings of 125 bytes leave
// the heap where it was (one queued pong each would hold over 20 MB).
func TestPingFloodOnePongPending(t *testing.T) {
	_, h, url := startHostile(t, Limits{})
	_, ws := dialPeer(t, url, false, false)
	c := h.conn(t)
	before := heap()
	payload := bytes.Repeat([]byte("p"), 125)
	for range 100000 {
		if ws.WritePing(payload) != nil {
			t.Fatal("ping not written")
		}
	}
	if err := ws.WriteString("last"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return c.lastActive.Load() > c.opened }, "every ping read")
	grown := int64(heap()) - int64(before)
	t.Logf("heap grew %d bytes over 100000 unanswered pings", grown)
	if grown > 8<<20 {
		t.Fatalf("heap grew %d bytes: pongs pile up for a peer that does not read", grown)
	}
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestQueueBoundInBytes: big frames hit the byte bound long before the
// frame bound.
func TestQueueBoundInBytes(t *testing.T) {
	p, h, url := startHostile(t, Limits{SendQueue: 100000, SendQueueBytes: 256 << 10})
	dialPeer(t, url, true, false)
	c := h.conn(t)
	big := bytes.Repeat([]byte("x"), 60000)
	sent := 0
	for c.Send(big) {
		sent++
		if sent > 100000 {
			t.Fatal("the send queue never filled")
		}
	}
	eventually(t, func() bool { return p.Totals().Slow == 1 }, "closed as a slow consumer")
	t.Logf("refused after %d frames of 60000 bytes", sent)
}

// TestWriteDeadlineClosesNonReader: a peer that reads nothing cannot hold
// a write past the write timeout.
func TestWriteDeadlineClosesNonReader(t *testing.T) {
	p, h, url := startHostile(t, Limits{SendQueue: 1 << 20, SendQueueBytes: 1 << 40, WriteTimeout: 200 * time.Millisecond})
	dialPeer(t, url, true, false)
	c := h.conn(t)
	big := bytes.Repeat([]byte("x"), 60000)
	for i := 0; i < 2000 && c.Send(big); i++ {
	}
	eventually(t, func() bool { return p.Totals().Slow == 1 }, "closed by the write deadline")
}

// TestPanicClosesOneConnection: a panicking handler closes its connection
// with 1011; the pool and the other connections carry on.
func TestPanicClosesOneConnection(t *testing.T) {
	p, h, url := startHostile(t, Limits{})
	pr, ws := dialPeer(t, url, true, true)
	h.conn(t)
	other := dialRecorder(t, url)
	oc := h.conn(t)
	if err := ws.WriteString("boom"); err != nil {
		t.Fatal(err)
	}
	waitClose(t, pr, frame.CloseInternalError)
	if !oc.Send([]byte("still here")) {
		t.Fatal("the other connection was closed")
	}
	eventually(t, func() bool { return other.count() == 1 }, "the other connection served")
	if p.Totals().Panics != 1 {
		t.Fatalf("panics = %d", p.Totals().Panics)
	}
}

// TestMemoryBudgetSheds: past the budget new upgrades are refused with
// ErrMemory and the connection holding the most queued bytes is closed as
// a slow consumer, while a connection with an empty queue stays.
func TestMemoryBudgetSheds(t *testing.T) {
	runtime.GC()
	limit := readMemory() + 96<<20
	p, h, url := startHostile(t, Limits{SendQueue: 1 << 20, SendQueueBytes: 1 << 40, MemoryLimit: ByteSize(limit)})
	dialPeer(t, url, true, false) // never reads: its queue grows
	hog := h.conn(t)
	dialPeer(t, url, true, true)
	quiet := h.conn(t)
	big := bytes.Repeat([]byte("x"), 60000)
	for range 400 { // 24 MB queued, sharing one slice
		if !hog.Send(big) {
			t.Fatal("send refused before the budget was passed")
		}
	}
	if _, err := p.Admit(); err != nil {
		t.Fatalf("admission refused under the budget: %v", err)
	}
	p.Release()
	ballast := make([]byte, 128<<20) // pushes the process past the budget
	for i := range ballast {
		ballast[i] = 1
	}
	eventually(t, func() bool { return p.Totals().Shed > 0 && hog.Closing() }, "the largest queue shed")
	if _, err := p.Admit(); !errors.Is(err, ErrMemory) {
		t.Fatalf("admission past the budget: %v, want ErrMemory", err)
	}
	if quiet.Closing() {
		t.Fatal("a connection with nothing queued was shed")
	}
	runtime.KeepAlive(ballast)
}
