package pool

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// openHandler hands every opened connection to the test.
type openHandler struct{ opened chan *Conn }

func (h openHandler) Open(c *Conn)          { h.opened <- c }
func (h openHandler) Message(*Conn, []byte) {}
func (h openHandler) Close(*Conn, string)   {}
func (h openHandler) conn(*testing.T) *Conn { return <-h.opened }

// recorder is a client that keeps every text frame it reads.
type recorder struct {
	gws.BuiltinEventHandler
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) OnMessage(_ *gws.Conn, m *gws.Message) {
	r.mu.Lock()
	r.frames = append(r.frames, bytes.Clone(m.Bytes()))
	r.mu.Unlock()
	m.Close()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

func startPool(t *testing.T, queue int) (*Pool, openHandler, string) {
	t.Helper()
	h := openHandler{opened: make(chan *Conn, 1)}
	p := New(Limits{MaxConns: 10, AcceptRate: 100, AcceptBurst: 10, MaxMessage: 1 << 20,
		SendQueue: queue, SendQueueBytes: 1 << 30, PingInterval: time.Minute, PongDeadline: time.Minute}, h, nil, zerolog.Nop())
	return p, h, upgradeServer(t, p)
}

// upgradeServer serves p's admissions and upgrades on a test server
// until the test ends and returns its WebSocket URL.
func upgradeServer(t *testing.T, p *Pool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := p.Admit(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = p.Upgrade(w, r, Accept{})
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialRecorder(t *testing.T, url string) *recorder {
	t.Helper()
	rec := &recorder{}
	ws, _, err := gws.NewClient(rec, &gws.ClientOption{Addr: url, ReadMaxPayloadSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	go ws.ReadLoop()
	t.Cleanup(func() { _ = ws.NetConn().Close() })
	return rec
}

// TestBatchedFramesArriveWhole sends frames of every header size, from
// several goroutines, one by one (Send) and in runs (DeliverRun), and
// checks that the client reads each one whole and every sender's frames
// in order.
func TestBatchedFramesArriveWhole(t *testing.T) {
	p, h, url := startPool(t, 4096)
	rec := dialRecorder(t, url)
	c := h.conn(t)
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 70000}
	const senders, each = 4, 300
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var run [][]byte
			for i := range each {
				n := sizes[i%len(sizes)]
				b := bytes.Repeat([]byte{'a' + byte(s)}, n+3)
				copy(b, []byte{'0' + byte(s), byte(i >> 8), byte(i)})
				if s%2 == 0 {
					if !c.Send(b) {
						t.Errorf("send %d of %d refused", i, s)
						return
					}
					continue
				}
				// Runs of 1 to 5 frames; the slice is reused.
				run = append(run, b)
				if len(run) == 1+i%5 || i == each-1 {
					if !c.DeliverRun(run) {
						t.Errorf("run to %d of %d refused", i, s)
						return
					}
					clear(run)
					run = run[:0]
				}
			}
		}()
	}
	wg.Wait()
	want := senders * each
	natstest.Until(t, 10*time.Second, func() bool { return rec.count() >= want },
		func() string { return fmt.Sprintf("got %d frames, want %d", rec.count(), want) })
	if got := rec.count(); got != want {
		t.Fatalf("got %d frames, want %d", got, want)
	}
	next := make([]int, senders)
	for _, f := range rec.frames {
		s := int(f[0] - '0')
		i := int(f[1])<<8 | int(f[2])
		if i != next[s] {
			t.Fatalf("sender %d: frame %d arrived when %d was due", s, i, next[s])
		}
		next[s]++
		if len(f) != sizes[i%len(sizes)]+3 || (len(f) > 3 && f[len(f)-1] != 'a'+byte(s)) {
			t.Fatalf("sender %d frame %d: %d bytes, want %d", s, i, len(f), sizes[i%len(sizes)]+3)
		}
	}
	eventually(t, func() bool { return p.Totals().Backlog == 0 && c.Backlog() == 0 }, "backlog drained")
}

// TestQueueBoundCloses checks that the bound still holds with batching: a
// client that reads nothing is closed as a slow consumer.
func TestQueueBoundCloses(t *testing.T) {
	p, h, url := startPool(t, 8)
	ws, _, err := gws.NewClient(&gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: url})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.NetConn().Close() // never read: the socket buffers fill up
	c := h.conn(t)
	big := bytes.Repeat([]byte("x"), 60000)
	refused := false
	for i := 0; i < 10000 && !refused; i++ {
		refused = !c.Send(big)
	}
	if !refused {
		t.Fatal("the send queue never filled")
	}
	eventually(t, func() bool { return p.Totals().Slow == 1 }, "closed as a slow consumer")
}

// TestRunOverBoundRefusedWhole checks that a run the send queue cannot
// take is refused whole, none of it queued, and closes the connection as
// a slow consumer.
func TestRunOverBoundRefusedWhole(t *testing.T) {
	p, h, url := startPool(t, 8)
	dialRecorder(t, url)
	c := h.conn(t)
	if !c.DeliverRun([][]byte{[]byte("a"), []byte("b")}) {
		t.Fatal("a run within the bound was refused")
	}
	eventually(t, func() bool { return c.Backlog() == 0 }, "first run written")
	run := make([][]byte, 9)
	for i := range run {
		run[i] = []byte("x")
	}
	if c.DeliverRun(run) {
		t.Fatal("a run of 9 frames was taken by a queue of 8")
	}
	if c.Backlog() != 0 || c.Queued() != 0 {
		t.Fatalf("backlog %d frames, %d bytes after a refused run", c.Backlog(), c.Queued())
	}
	eventually(t, func() bool { return p.Totals().Slow == 1 }, "closed as a slow consumer")
}

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	natstest.Until(t, 10*time.Second, cond, func() string { return "not " + what })
}

// TestMoveCountsTheHint moves a connection with a reconnect hint: the
// client reads the hint, and once it is written the pool's backlog, in
// frames and in bytes, is back to zero (a hint uncounted in bytes but
// taken off by the flush left the byte count negative, which the memory
// budget reads).
func TestMoveCountsTheHint(t *testing.T) {
	p, h, url := startPool(t, 8)
	rec := dialRecorder(t, url)
	c := h.conn(t)
	hint := []byte(`{"op":"reconnect"}`)
	if n := p.Move(context.Background(), []*Conn{c}, 0, 4003, func(*Conn) []byte { return hint }, nil); n != 1 {
		t.Fatalf("moved %d", n)
	}
	eventually(t, func() bool { return rec.count() == 1 }, "hint read")
	eventually(t, func() bool { t := p.Totals(); return t.Backlog == 0 && t.BacklogBytes == 0 },
		fmt.Sprintf("backlog empty (%d frames, %d bytes)", p.Totals().Backlog, p.Totals().BacklogBytes))
}
