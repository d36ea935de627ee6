package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/tools/internal/bench"
)

// ErrWorker wraps a worker's failures.
var ErrWorker = errors.New("suite: worker")

// Command is one line the suite sends to a worker's stdin.
type Command struct {
	Op string `json:"op"` // dial, sub, subeach, lat, hist, rsopen, rsback, rstally, rspause, rsresume, rserrors, quit

	// dial: N connections to URL from Src, speaking Proto, each subscribed
	// to "<Prefix><(Base+i) % Spread>".
	N      int    `json:"n,omitempty"`
	URL    string `json:"url,omitempty"`
	Proto  string `json:"proto,omitempty"`
	Token  string `json:"token,omitempty"`
	Src    string `json:"src,omitempty"`
	Conc   int    `json:"conc,omitempty"`
	Base   int    `json:"base,omitempty"`
	Spread int    `json:"spread,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	// Retries: a connection that fails is dialled again this many times.
	Retries int `json:"retries,omitempty"`

	// subeach: every connection subscribes, one after the other, to N
	// channels "<Prefix><index*N+j>", with at most Conc connections
	// subscribing at once; the report's Hist holds the latencies (send to
	// reply).

	// sub: the first First connections (all if 0) also subscribe to Channel.
	Channel string `json:"channel,omitempty"`
	First   int    `json:"first,omitempty"`

	// lat: latency recording on (and reset) or off.
	On bool `json:"on,omitempty"`

	// rsopen: N restart clients (see restartClient) to URL from Src,
	// client i on channel "<Prefix><(Base+i) % Spread>", started at Rate
	// per second; the answer comes once all are subscribed. rsback: how
	// many subscribed after Since (unix nanos), with every client's
	// latest subscribe in Times when Times is asked for (On). rstally:
	// what the clients got of the Accepted numbers of their channels.
	Rate     float64             `json:"rate,omitempty"`
	Since    int64               `json:"since,omitempty"`
	Accepted map[string][]uint64 `json:"accepted,omitempty"`
	// rsopen over several servers: client i starts on URLs[Home[i]] and
	// moves to another of URLs when its connection ends.
	URLs []string `json:"urls,omitempty"`
	Home []int    `json:"home,omitempty"`
	// rsback: also count the clients that got message Targets[channel]
	// of their channel (Caught), and the latest time one of them got a
	// message (LastAt). rspause closes every client's connection and
	// keeps them offline, positions kept, until rsresume.
	Targets map[string]uint64 `json:"targets,omitempty"`
	// rsopen: the clients' dial and handshake timeout (default 5 s).
	DialMS int `json:"dial_ms,omitempty"`
}

// Report is one line a worker writes to stdout.
type Report struct {
	Op        string   `json:"op"` // dialed, subbed, tick, hist, ok, error
	OK        int      `json:"ok,omitempty"`
	Failed    int      `json:"failed,omitempty"`
	ReadyMS   float64  `json:"ready_ms,omitempty"` // first dial to last connection ready
	Delivered uint64   `json:"delivered,omitempty"`
	Hist      []uint64 `json:"hist,omitempty"`
	Err       string   `json:"err,omitempty"`
	// rsback and rstally (see Command).
	Times       []int64 `json:"times,omitempty"`
	Lost        uint64  `json:"lost,omitempty"`
	Dup         uint64  `json:"dup,omitempty"`
	Unrecovered uint64  `json:"unrecovered,omitempty"`
	// rsback: clients connected and subscribed now, clients that got
	// their target, and the latest time (unix nanos) one of those got a
	// message.
	Live   int   `json:"live,omitempty"`
	Caught int   `json:"caught,omitempty"`
	LastAt int64 `json:"last_at,omitempty"`
}

// worker holds a worker process's connections.
type worker struct {
	out   *json.Encoder
	outMu sync.Mutex

	conns     []*wconn
	restart   *restartFleet
	delivered atomic.Uint64
	latOn     atomic.Bool
	hist      Hist
	lastErr   atomic.Pointer[string]
}

// Worker runs a client worker: it reads Commands from in, one per line,
// and writes Reports to out, plus a tick with the delivered count every
// 20 ms while it changes. It returns when in ends or on quit.
func Worker(ctx context.Context, in io.Reader, out io.Writer) error {
	w := &worker{out: json.NewEncoder(out)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.ticks(ctx)
	defer w.closeAll()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20) // a tally carries every accepted number
	for sc.Scan() {
		var c Command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			w.send(Report{Op: "error", Err: err.Error()})
			continue
		}
		if c.Op == "quit" {
			return nil
		}
		w.send(w.do(ctx, c))
	}
	return sc.Err()
}

func (w *worker) do(ctx context.Context, c Command) Report {
	switch c.Op {
	case "dial":
		return w.dial(ctx, c)
	case "sub":
		return w.subscribeAll(ctx, c.Channel, c.First)
	case "subeach":
		return w.subscribeEach(ctx, c.Prefix, max(c.N, 1), max(c.Conc, 1))
	case "lat":
		w.latOn.Store(false)
		w.hist.Reset()
		w.latOn.Store(c.On)
		return Report{Op: "ok"}
	case "hist":
		return Report{Op: "hist", Hist: w.hist.Counts(), Delivered: w.delivered.Load()}
	case "rsopen", "rsback", "rstally", "rspause", "rsresume", "rserrors":
		return w.restartOp(ctx, c)
	}
	return Report{Op: "error", Err: "unknown op " + c.Op}
}

func (w *worker) send(r Report) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	_ = w.out.Encode(r)
}

func (w *worker) ticks(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := w.delivered.Load(); n != last {
				last = n
				w.send(Report{Op: "tick", Delivered: n})
			}
		}
	}
}

// dial opens c.N connections, at most c.Conc at a time, then subscribes
// each to its channel.
func (w *worker) dial(ctx context.Context, c Command) Report {
	conc := max(c.Conc, 1)
	sem := make(chan struct{}, conc)
	var mu sync.Mutex
	var wg sync.WaitGroup
	fresh := make([]*wconn, 0, c.N)
	failed := 0
	start := time.Now()
	var lastReady time.Time
	for i := range c.N {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			wc, err := w.open(c)
			for try := 0; err != nil && try < c.Retries && ctx.Err() == nil; try++ {
				wc, err = w.open(c)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				msg := err.Error()
				w.lastErr.Store(&msg)
				return
			}
			wc.index = c.Base + i
			fresh = append(fresh, wc)
			lastReady = time.Now()
		}()
	}
	wg.Wait()
	r := Report{Op: "dialed", OK: len(fresh), Failed: failed, ReadyMS: msSince(start, lastReady)}
	if p := w.lastErr.Load(); p != nil && failed > 0 {
		r.Err = *p
	}
	w.conns = append(w.conns, fresh...)
	if c.Spread > 0 {
		subFailed := w.subscribe(ctx, fresh, func(wc *wconn) string {
			return fmt.Sprintf("%s%d", c.Prefix, wc.index%c.Spread)
		})
		r.Failed += subFailed
	}
	return r
}

func msSince(start, end time.Time) float64 {
	if end.IsZero() {
		return 0
	}
	return float64(end.Sub(start).Microseconds()) / 1000
}

func (w *worker) subscribeAll(ctx context.Context, channel string, first int) Report {
	conns := w.conns
	if first > 0 && first < len(conns) {
		conns = conns[:first]
	}
	failed := w.subscribe(ctx, conns, func(*wconn) string { return channel })
	return Report{Op: "subbed", OK: len(conns) - failed, Failed: failed}
}

// subscribe sends every subscription first, then waits for the answers.
func (w *worker) subscribe(ctx context.Context, conns []*wconn, channel func(*wconn) string) int {
	for _, wc := range conns {
		wc.subscribe(channel(wc))
	}
	failed := 0
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for _, wc := range conns {
		select {
		case ok := <-wc.acks:
			if !ok {
				failed++
			}
		case <-deadline.C:
			failed++
		case <-ctx.Done():
			return failed + 1
		}
	}
	return failed
}

// subscribeEach subscribes every connection to perConn channels of its
// own (prefix + index*perConn + j), one at a time, with at most conc
// connections subscribing at once, recording each subscribe's latency.
func (w *worker) subscribeEach(ctx context.Context, prefix string, perConn, conc int) Report {
	var h Hist
	var failed atomic.Int64
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for _, wc := range w.conns {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for j := range perConn {
				start := time.Now()
				wc.subscribe(prefix + strconv.Itoa(wc.index*perConn+j))
				if !awaitAck(wc) {
					failed.Add(1)
					continue
				}
				h.Record(time.Since(start))
			}
		})
	}
	wg.Wait()
	n := int(failed.Load())
	return Report{Op: "subbed", OK: len(w.conns)*perConn - n, Failed: n, Hist: h.Counts()}
}

// awaitAck waits up to 30 s for the answer to a connection's subscribe.
func awaitAck(wc *wconn) bool {
	select {
	case ok := <-wc.acks:
		return ok
	case <-time.After(30 * time.Second):
		return false
	}
}

func (w *worker) closeAll() {
	for _, wc := range w.conns {
		_ = wc.ws.NetConn().Close()
	}
	if w.restart != nil {
		w.restart.stop()
	}
}

// open dials one connection and waits until the server has accepted it:
// the hello (wsheal), the upgrade (gws), the PONG after CONNECT (NATS) or
// the connect reply (Centrifugo).
func (w *worker) open(c Command) (*wconn, error) {
	wc := &wconn{w: w, proto: c.Proto, token: c.Token,
		ready: make(chan struct{}), acks: make(chan bool, 4)}
	url := c.URL
	if c.Token != "" && (c.Proto == ProtoWsheal || c.Proto == ProtoGws) {
		url += "?token=" + c.Token
	}
	opt := &gws.ClientOption{Addr: url, HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4 << 10,
		NewDialer: func() (gws.Dialer, error) { return bench.SourceDialer(c.Src, 10*time.Second), nil }}
	ws, _, err := gws.NewClient(wc, opt)
	if err != nil {
		return nil, fmt.Errorf("%w: dial: %v", ErrWorker, err)
	}
	wc.ws = ws
	go ws.ReadLoop()
	switch c.Proto {
	case ProtoGws:
		close(wc.ready)
	case ProtoCentrifugo:
		if err := wc.cfConnect(); err != nil {
			_ = ws.NetConn().Close()
			return nil, fmt.Errorf("%w: connect: %v", ErrWorker, err)
		}
	}
	select {
	case <-wc.ready:
		return wc, nil
	case <-time.After(10 * time.Second):
		_ = ws.NetConn().Close()
		return nil, fmt.Errorf("%w: no welcome within 10s", ErrWorker)
	}
}
