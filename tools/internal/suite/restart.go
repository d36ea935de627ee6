package suite

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/tools/internal/bench"
)

// The restart figure: one server holding RestartClients clients, each
// subscribed with its position kept, is killed (SIGKILL) and started
// again on the same port while a publisher goes on. Measured: the time
// from the kill until every client is subscribed again, and the messages
// the server accepted (JetStream's ack for wsheal, the server API's
// answer for Centrifugo) that a client never got. Only the servers that
// resume a subscription from a position take part: wsheal (since and
// epoch) and Centrifugo (recover, offset and epoch). Both are driven by
// the same client code, with the same backoff.

const (
	rowRestartTime = "restart of a server holding %d clients: time until all resubscribed"
	rowRestartLost = "restart of a server holding %d clients: messages lost of those accepted"
	rowRestartAcc  = "restart of a server holding %d clients: messages accepted"
)

var goalRestart = []Goal{{Ref: ProtoCentrifugo, Max: 0.4}}

// restartKinds are the servers that resume a subscription.
var restartKinds = []string{ProtoWsheal, ProtoCentrifugo}

// ErrRestart wraps a failure of the restart figure.
var ErrRestart = errors.New("suite: restart")

// restarts runs the restart figure's rounds, alternating the servers.
func (r *runner) restarts(ctx context.Context) error {
	var kinds []string
	for _, k := range restartKinds {
		if slices.Contains(r.opts.Servers, k) {
			kinds = append(kinds, k)
		}
	}
	for round := range r.opts.Rounds {
		for _, kind := range rotate(kinds, round) {
			if err := r.roundRestart(ctx, round, kind); err != nil {
				return fmt.Errorf("restart round %d, %s: %w", round+1, kind, err)
			}
		}
	}
	return nil
}

// roundRestart measures one restart of a server of kind.
func (r *runner) roundRestart(ctx context.Context, round int, kind string) error {
	p := r.p
	port, err := freePort()
	if err != nil {
		return err
	}
	start := func() (*serverProc, error) {
		if kind == ProtoCentrifugo {
			return startCentrifugo(ctx, r.opts.Centrifugo, r.dir, r.secret, r.apiKey, port)
		}
		r.nodes++
		return startServer(ctx, r.opts.Exec, r.gatewayEnv(fmt.Sprintf("suite-%d", r.nodes)), kind,
			"--listen", "127.0.0.1:"+strconv.Itoa(port))
	}
	if kind == ProtoWsheal {
		r.dropChannels(ctx)
	}
	srv, err := start()
	if err != nil {
		return err
	}
	defer func() {
		if srv != nil {
			srv.kill()
		}
	}()
	pub, err := r.restartPublisher(ctx, kind, srv)
	if err != nil {
		return err
	}
	channels := make([]string, p.RestartChannels)
	for i := range channels {
		channels[i] = "rs-" + strconv.Itoa(i)
	}
	fleet, err := r.openRestart(ctx, kind, srv.ready.WS, r.freshSources(4))
	if err != nil {
		return err
	}
	defer fleet.ws.stop()
	r.logf("restart round %d: %s: %d clients on %d channels subscribed", round+1, kind, p.RestartClients, len(channels))
	pctx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.run(pctx, channels, p.RestartRate) }()
	defer func() { stopPub(); <-pubDone }()
	time.Sleep(p.RestartBefore) // messages flow to every client
	kill := time.Now()
	srv.kill()
	gone := time.Since(kill)
	if srv, err = start(); err != nil {
		return fmt.Errorf("%w: %s: start again: %v", ErrRestart, kind, err)
	}
	up := time.Since(kill)
	stopProfile := func() {}
	if kind == ProtoWsheal && round == 0 && r.opts.ProfileDir != "" {
		stopProfile = r.profile(ctx, srv, "restart", 5*time.Second)
	}
	back, ok := fleet.resumed(ctx, kill, p.RestartClients, time.Minute, nil)
	stopProfile()
	if !ok {
		return fmt.Errorf("%w: %s: %d of %d clients subscribed again within a minute", ErrRestart, kind, back, p.RestartClients)
	}
	first, half, allBack, _, err := fleet.backTimes(ctx, kill)
	if err != nil {
		return err
	}
	time.Sleep(p.RestartAfter) // live again after the resume
	stopPub()
	<-pubDone
	sum, err := fleet.settle(ctx, pub.accepted, 10*time.Second)
	if err != nil {
		return err
	}
	lost, dup := sum.Lost, sum.Dup
	acc := pub.total()
	r.res.figure(fmt.Sprintf(rowRestartTime, p.RestartClients), "ms", goalRestart...).add(kind, float64(allBack.Milliseconds()))
	r.res.figure(fmt.Sprintf(rowRestartLost, p.RestartClients), "msgs").add(kind, float64(lost))
	r.res.figure(fmt.Sprintf(rowRestartAcc, p.RestartClients), "msgs").add(kind, float64(acc))
	r.logf("restart round %d: %s: killed (process gone) in %d ms, up again after %d ms; first client resubscribed after %d ms, half after %d ms",
		round+1, kind, gone.Milliseconds(), up.Milliseconds(), first.Milliseconds(), half.Milliseconds())
	r.logf("restart round %d: %s: all %d resubscribed %d ms after the kill; accepted %d (refused %d), delivered %d, lost %d, duplicated %d, positions lost %d",
		round+1, kind, p.RestartClients, allBack.Milliseconds(), acc, pub.refused.Load(), sum.Delivered, lost, dup, sum.Unrecovered)
	if dup > 0 {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("restart, %s, round %d: %d messages delivered twice", kind, round+1, dup))
	}
	return nil
}

// restartPub publishes numbered messages ("r<n>", n counting from 1 over
// all channels) and remembers which the server accepted.
type restartPub struct {
	send     func(ctx context.Context, channel string, data []byte) error
	close    func()
	mu       sync.Mutex
	accepted map[string][]uint64 // channel -> accepted numbers, in order
	refused  atomic.Uint64
}

func (r *runner) restartPublisher(ctx context.Context, kind string, srv *serverProc) (*restartPub, error) {
	p := &restartPub{accepted: map[string][]uint64{}, close: func() {}}
	switch kind {
	case ProtoWsheal:
		return jetStreamPub(r.pub)
	case ProtoCentrifugo:
		client := &http.Client{Timeout: 2 * time.Second}
		api := srv.ready.Publish
		p.send = func(ctx context.Context, channel string, data []byte) error {
			body, _ := json.Marshal(map[string]any{"channel": centrifugoChannel(channel), "data": json.RawMessage(data)})
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/publish", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("X-API-Key", r.apiKey)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"error"`)) {
				return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
			}
			return nil
		}
		p.close = client.CloseIdleConnections
	default:
		return nil, fmt.Errorf("%w: %s does not resume", ErrRestart, kind)
	}
	return p, nil
}

// run publishes at rate over channels, round robin, until ctx ends; each
// publish waits for the server's answer (at most 2 s).
func (p *restartPub) run(ctx context.Context, channels []string, rate float64) {
	defer p.close()
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	var n uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n++
		ch := channels[int(n)%len(channels)]
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := p.send(pctx, ch, []byte(`"r`+strconv.FormatUint(n, 10)+`"`))
		cancel()
		if err != nil {
			p.refused.Add(1)
			continue
		}
		p.mu.Lock()
		p.accepted[ch] = append(p.accepted[ch], n)
		p.mu.Unlock()
	}
}

func (p *restartPub) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.accepted {
		n += len(a)
	}
	return n
}

// restartFleet is the restart clients of one worker process.
type restartFleet struct {
	clients []*restartClient
	wg      sync.WaitGroup
	cancel  context.CancelFunc

	mu     sync.Mutex
	paused chan struct{} // closed by resume; nil when not paused
}

// pause closes every client's connection and keeps the clients from
// connecting again until resume (they keep their positions: clients that
// went offline together). It returns once no client is connected.
func (f *restartFleet) pause(ctx context.Context, within time.Duration) error {
	f.mu.Lock()
	if f.paused == nil {
		f.paused = make(chan struct{})
	}
	f.mu.Unlock()
	deadline := time.Now().Add(within)
	for {
		live := 0
		for _, c := range f.clients {
			if c.connected.Load() {
				c.closeConn()
				live++
			}
		}
		if live == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d clients still connected after the pause", live)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// resume lets every paused client connect again, all at once.
func (f *restartFleet) resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused != nil {
		close(f.paused)
		f.paused = nil
	}
}

// wait returns when the fleet is not paused or ctx ends.
func (f *restartFleet) wait(ctx context.Context) {
	f.mu.Lock()
	ch := f.paused
	f.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// restartOp runs the rsopen, rsback and rstally commands.
func (w *worker) restartOp(ctx context.Context, c Command) Report {
	switch c.Op {
	case "rsopen":
		if w.restart != nil {
			w.restart.stop()
		}
		f := &restartFleet{}
		fctx, cancel := context.WithCancel(context.Background())
		f.cancel = cancel
		urls := c.URLs
		if len(urls) == 0 {
			urls = []string{c.URL}
		}
		timeout := cmp.Or(time.Duration(c.DialMS)*time.Millisecond, 5*time.Second)
		for i := range c.N {
			rc := &restartClient{proto: c.Proto, urls: urls, token: c.Token, src: c.Src, fleet: f, timeout: timeout,
				channel: c.Prefix + strconv.Itoa((c.Base+i)%max(c.Spread, 1)), got: map[uint64]int{}}
			if i < len(c.Home) {
				rc.cur = c.Home[i] % len(urls)
			}
			f.clients = append(f.clients, rc)
		}
		w.restart = f
		deadline := time.Now().Add(150 * time.Second)
		per := max(int(c.Rate/100), 1) // started every 10 ms (timers are coarse)
		for i, rc := range f.clients {
			f.wg.Add(1)
			go func() { defer f.wg.Done(); rc.run(fctx) }()
			if (i+1)%per == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		for f.back(0) < len(f.clients) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return Report{Op: "error", Err: fmt.Sprintf("%d of %d restart clients subscribed within 150 s; %s", f.back(0), len(f.clients), f.errors())}
			}
			time.Sleep(10 * time.Millisecond)
		}
		return Report{Op: "ok", OK: len(f.clients)}
	case "rsback":
		if w.restart == nil {
			return Report{Op: "error", Err: "no restart clients"}
		}
		r := Report{Op: "ok", OK: w.restart.back(c.Since)}
		for _, rc := range w.restart.clients {
			if c.On {
				r.Times = append(r.Times, rc.subscribedAt.Load())
			}
			if rc.live.Load() {
				r.Live++
			}
			if c.Targets != nil && rc.has(c.Targets[rc.channel]) {
				r.Caught++
				r.LastAt = max(r.LastAt, rc.lastAt.Load())
			}
		}
		return r
	case "rserrors":
		if w.restart == nil {
			return Report{Op: "error", Err: "no restart clients"}
		}
		return Report{Op: "ok", Err: w.restart.errors()}
	case "rspause":
		if w.restart == nil {
			return Report{Op: "error", Err: "no restart clients"}
		}
		if err := w.restart.pause(ctx, time.Minute); err != nil {
			return Report{Op: "error", Err: err.Error()}
		}
		return Report{Op: "ok", OK: len(w.restart.clients)}
	case "rsresume":
		if w.restart == nil {
			return Report{Op: "error", Err: "no restart clients"}
		}
		w.restart.resume()
		return Report{Op: "ok", OK: len(w.restart.clients)}
	case "rstally":
		if w.restart == nil {
			return Report{Op: "error", Err: "no restart clients"}
		}
		r := Report{Op: "ok"}
		for _, rc := range w.restart.clients {
			l, d, g := rc.tally(c.Accepted[rc.channel])
			r.Lost, r.Dup, r.Delivered = r.Lost+l, r.Dup+d, r.Delivered+g
			r.Unrecovered += rc.unrecovered.Load()
		}
		return r
	}
	return Report{Op: "error", Err: "unknown op " + c.Op}
}

// errors sums what went wrong for the fleet's clients: failed dials,
// error frames (the latest one's text), connections that ended.
func (f *restartFleet) errors() string {
	var dials, frames, ends uint64
	last, lastDial := "", ""
	for _, c := range f.clients {
		dials, frames, ends = dials+c.dialErrs.Load(), frames+c.errFrames.Load(), ends+c.ends.Load()
		if e := c.lastErr.Load(); e != nil {
			last = *e
		}
		if e := c.lastDialErr.Load(); e != nil {
			lastDial = *e
		}
	}
	return fmt.Sprintf("%d failed dials (latest: %q), %d error frames, %d connections ended (latest: %q)", dials, lastDial, frames, ends, last)
}

// back counts the clients whose latest subscribe succeeded after since
// (unix nanos).
func (f *restartFleet) back(since int64) int {
	n := 0
	for _, c := range f.clients {
		if c.subscribedAt.Load() > since {
			n++
		}
	}
	return n
}

func (f *restartFleet) stop() {
	f.cancel()
	for _, c := range f.clients {
		c.closeConn()
	}
	f.wg.Wait()
}

// restartWorkers are the worker processes holding a round's clients.
type restartWorkers struct {
	ws workers
	n  int
}

// openRestart starts one worker per source address and opens the
// round's clients over them, every client subscribed.
func (r *runner) openRestart(ctx context.Context, kind, url string, srcs []string) (*restartWorkers, error) {
	p := r.p
	return r.openResuming(ctx, resumingFleet{kind: kind, urls: []string{url}, srcs: srcs, n: p.RestartClients,
		prefix: "rs-", channels: p.RestartChannels, dialRate: p.HealDialRate})
}

// resumingFleet describes restart clients to open: n clients of kind
// over the workers of srcs (one each), client g on channel
// prefix+(g % channels), starting on urls[home(g)] (urls[0] when home is
// nil), dialled at dialRate in all.
type resumingFleet struct {
	kind        string
	urls, srcs  []string
	home        func(g int) int
	n, channels int
	prefix      string
	dialRate    float64
	dialMS      int // the clients' dial and handshake timeout (default 5 s)
}

// openResuming starts the fleet's workers and opens its clients; it
// returns once every client is subscribed.
func (r *runner) openResuming(ctx context.Context, fl resumingFleet) (*restartWorkers, error) {
	rw := &restartWorkers{n: fl.n}
	for range fl.srcs {
		w, err := startWorker(r.opts.Exec, r.progress)
		if err != nil {
			rw.ws.stop()
			return nil, err
		}
		rw.ws = append(rw.ws, w)
	}
	per := fl.n / len(fl.srcs)
	errs := make(chan error, len(fl.srcs))
	for i, w := range rw.ws {
		base, n := i*per, per
		if i == len(fl.srcs)-1 {
			n = fl.n - base
		}
		var home []int
		if fl.home != nil {
			home = make([]int, n)
			for j := range home {
				home[j] = fl.home(base + j)
			}
		}
		go func() {
			_, err := w.call(ctx, Command{Op: "rsopen", N: n, URLs: fl.urls, Home: home, Proto: clientProto(fl.kind),
				Token: r.tokenFor(fl.kind), Src: fl.srcs[i], Prefix: fl.prefix, Spread: fl.channels, Base: base,
				Rate: fl.dialRate / float64(len(fl.srcs)), DialMS: fl.dialMS}, 3*time.Minute)
			errs <- err
		}()
	}
	var first error
	for range fl.srcs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		rw.ws.stop()
		return nil, fmt.Errorf("%w: %v", ErrRestart, first)
	}
	return rw, nil
}

// resumed waits until at least want clients subscribed again after
// since and every client is connected and subscribed; it returns how many
// had subscribed again. With logf set, it logs the counts every 2 s.
func (rw *restartWorkers) resumed(ctx context.Context, since time.Time, want int, within time.Duration, logf func(string, ...any)) (int, bool) {
	deadline := time.Now().Add(within)
	logged := time.Now()
	for {
		again, live, answered := 0, 0, true
		for _, w := range rw.ws {
			// A worker busy with its clients may answer late: ask again.
			rep, err := w.call(ctx, Command{Op: "rsback", Since: since.UnixNano()}, 30*time.Second)
			if err != nil {
				answered = false
				break
			}
			again, live = again+rep.OK, live+rep.Live
		}
		if answered && again >= want && live == rw.n {
			return again, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return again, false
		}
		if logf != nil && answered && time.Since(logged) >= 2*time.Second {
			logged = time.Now()
			logf("%.0f s after the kill: %d subscribed again, %d of %d connected and subscribed", time.Since(since).Seconds(), again, live, rw.n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// backTimes are, over the clients whose latest subscribe came after kill,
// the times after kill of the first one's, the median one's and the last
// one's, and how many they are.
func (rw *restartWorkers) backTimes(ctx context.Context, kill time.Time) (first, half, last time.Duration, n int, err error) {
	var ds []time.Duration
	for _, w := range rw.ws {
		rep, err := w.call(ctx, Command{Op: "rsback", On: true}, 10*time.Second)
		if err != nil {
			return 0, 0, 0, 0, err
		}
		for _, t := range rep.Times {
			if d := time.Unix(0, t).Sub(kill); d > 0 {
				ds = append(ds, d)
			}
		}
	}
	if len(ds) == 0 {
		return 0, 0, 0, 0, fmt.Errorf("%w: no client subscribed again", ErrRestart)
	}
	slices.Sort(ds)
	return ds[0], ds[len(ds)/2], ds[len(ds)-1], len(ds), nil
}

// settle waits (at most within) until every client got every message
// accepted on its channel, then counts, over all clients, what is
// missing, what came twice, what came, and the resubscribes answered
// "not recovered".
func (rw *restartWorkers) settle(ctx context.Context, accepted map[string][]uint64, within time.Duration) (Report, error) {
	deadline := time.Now().Add(within)
	for {
		var sum Report
		for _, w := range rw.ws {
			rep, err := w.call(ctx, Command{Op: "rstally", Accepted: accepted}, 30*time.Second)
			if err != nil {
				return sum, err
			}
			sum.Lost, sum.Dup, sum.Delivered, sum.Unrecovered = sum.Lost+rep.Lost, sum.Dup+rep.Dup, sum.Delivered+rep.Delivered, sum.Unrecovered+rep.Unrecovered
		}
		if sum.Lost == 0 || time.Now().After(deadline) {
			return sum, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// restartClient is one subscriber that keeps its position (seq or offset,
// and epoch) and resumes from it after every reconnect, as the servers'
// own clients do. Its gws events run on the read goroutine of its current
// connection; there is one connection at a time.
type restartClient struct {
	gws.BuiltinEventHandler
	proto, token, channel, src string
	// urls are the servers; the client starts on urls[cur] and, when a
	// connection ends or a dial fails, moves to another at random.
	urls    []string
	cur     int // used by run alone
	fleet   *restartFleet
	timeout time.Duration // of a dial, and of the handshake

	mu   sync.Mutex
	ws   *gws.Conn
	got  map[uint64]int // message number -> times received
	pos  uint64         // seq (wsheal) or offset (Centrifugo) reached
	ep   string         // epoch of pos
	have bool           // pos is a position (a subscribe succeeded once)

	subscribedAt atomic.Int64 // unix nanos of the latest successful subscribe
	lastAt       atomic.Int64 // unix nanos of the latest message recorded
	connected    atomic.Bool  // a connection is open
	live         atomic.Bool  // subscribed on the open connection
	unrecovered  atomic.Uint64
	// What went wrong: failed dials, error frames, connections that
	// ended, and the latest error.
	dialErrs, errFrames, ends atomic.Uint64
	lastErr, lastDialErr      atomic.Pointer[string]
}

// backoff between reconnects: jittered, from 50 ms doubling to 1 s.
func backoff(attempt int) time.Duration {
	d := min(50*time.Millisecond<<min(attempt, 5), time.Second)
	return d/2 + rand.N(d/2+1)
}

// run connects and reconnects until ctx ends.
func (c *restartClient) run(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		c.fleet.wait(ctx)
		url := c.urls[c.cur]
		if c.proto == ProtoWsheal {
			url += "?token=" + c.token
		}
		ws, _, err := gws.NewClient(c, &gws.ClientOption{Addr: url, HandshakeTimeout: c.timeout, ReadBufferSize: 4 << 10,
			NewDialer: func() (gws.Dialer, error) { return bench.SourceDialer(c.src, c.timeout), nil }})
		if err != nil {
			c.dialErrs.Add(1)
			e := err.Error()
			c.lastDialErr.Store(&e)
			c.move()
			select {
			case <-ctx.Done():
			case <-time.After(backoff(attempt)):
			}
			continue
		}
		attempt = -1
		c.mu.Lock()
		c.ws = ws
		c.connected.Store(true)
		c.mu.Unlock()
		if ctx.Err() != nil {
			_ = ws.NetConn().Close()
		}
		if c.proto == ProtoCentrifugo {
			_ = ws.WriteString(`{"id":1,"connect":{"token":"` + c.token + `","name":"suite"}}`)
		}
		ws.ReadLoop() // until the connection ends
		c.ends.Add(1)
		c.mu.Lock()
		c.connected.Store(false)
		c.live.Store(false)
		c.mu.Unlock()
		c.move()
		select {
		case <-ctx.Done():
		case <-time.After(backoff(0)):
		}
	}
}

// move picks another server for the next connection, when there is one.
func (c *restartClient) move() {
	if n := len(c.urls); n > 1 {
		c.cur = (c.cur + 1 + rand.IntN(n-1)) % n
	}
}

// has reports whether the client got message number n.
func (c *restartClient) has(n uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[n] > 0
}

func (c *restartClient) closeConn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil {
		_ = c.ws.NetConn().Close()
	}
}

// tally counts, against the numbers accepted on the client's channel,
// those it never got and those it got more than once.
func (c *restartClient) tally(accepted []uint64) (lost, dup, got uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range accepted {
		switch k := c.got[n]; {
		case k == 0:
			lost++
		case k > 1:
			dup += uint64(k - 1)
		}
	}
	for _, k := range c.got {
		got += uint64(k)
	}
	return lost, dup, got
}

// OnClose implements gws.Event: the reason the connection ended.
func (c *restartClient) OnClose(_ *gws.Conn, err error) {
	if err != nil {
		e := "closed: " + err.Error()
		c.lastErr.Store(&e)
	}
}

// OnPing implements gws.Event.
func (c *restartClient) OnPing(ws *gws.Conn, payload []byte) { _ = ws.WritePong(payload) }

// OnMessage implements gws.Event.
func (c *restartClient) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	if c.proto == ProtoCentrifugo {
		for _, line := range bytes.Split(m.Bytes(), []byte{'\n'}) {
			c.onCentrifugo(ws, line)
		}
		return
	}
	c.onWsheal(ws, m.Bytes())
}

// wshealFrame is what the client reads of a wsheal frame.
type wshealFrame struct {
	Op        string          `json:"op"`
	ID        int             `json:"id"`
	Seq       uint64          `json:"seq"`
	Epoch     string          `json:"epoch"`
	Recovered *bool           `json:"recovered"`
	Data      json.RawMessage `json:"data"`
}

func (c *restartClient) onWsheal(ws *gws.Conn, b []byte) {
	var f wshealFrame
	if json.Unmarshal(b, &f) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f.Op {
	case "hello":
		sub := `{"op":"subscribe","id":1,"channel":"` + c.channel + `"`
		if c.have {
			sub += `,"since":` + strconv.FormatUint(c.pos, 10) + `,"epoch":"` + c.ep + `"`
		}
		_ = ws.WriteString(sub + "}")
	case "msg":
		if c.have && f.Seq <= c.pos {
			return // already had it (the protocol's rule)
		}
		c.pos = f.Seq
		c.record(f.Data)
	case "reply":
		if f.ID != 1 {
			return
		}
		if !c.have || f.Recovered == nil || !*f.Recovered || f.Epoch != c.ep {
			if c.have {
				c.unrecovered.Add(1)
			}
			c.pos = f.Seq
		} else {
			c.pos = max(c.pos, f.Seq)
		}
		c.ep, c.have = f.Epoch, true
		c.subscribedAt.Store(time.Now().UnixNano())
		c.live.Store(true)
	case "error":
		c.errFrames.Add(1)
		e := string(b)
		c.lastErr.Store(&e)
		_ = ws.NetConn().Close()
	}
}

// cfReply is what the client reads of a Centrifugo line.
type cfReply struct {
	ID        int       `json:"id"`
	Error     *struct{} `json:"error"`
	Subscribe *struct {
		Epoch        string          `json:"epoch"`
		Offset       uint64          `json:"offset"`
		Recovered    bool            `json:"recovered"`
		Publications []cfPublication `json:"publications"`
	} `json:"subscribe"`
	Push *struct {
		Pub *cfPublication `json:"pub"`
	} `json:"push"`
}

type cfPublication struct {
	Data   json.RawMessage `json:"data"`
	Offset uint64          `json:"offset"`
}

func (c *restartClient) onCentrifugo(ws *gws.Conn, line []byte) {
	if len(line) == 0 {
		return
	}
	if bytes.Equal(line, cfPing) {
		_ = ws.WriteString("{}")
		return
	}
	var f cfReply
	if json.Unmarshal(line, &f) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case f.Error != nil:
		_ = ws.NetConn().Close()
	case f.ID == 1: // connected
		sub := `{"id":2,"subscribe":{"channel":"` + centrifugoChannel(c.channel) + `"`
		if c.have {
			sub += `,"recover":true,"offset":` + strconv.FormatUint(c.pos, 10) + `,"epoch":"` + c.ep + `"`
		}
		_ = ws.WriteString(sub + "}}")
	case f.ID == 2 && f.Subscribe != nil:
		s := f.Subscribe
		recovered := c.have && s.Recovered && s.Epoch == c.ep
		for _, p := range s.Publications {
			if !recovered || p.Offset > c.pos {
				c.record(p.Data)
			}
		}
		if c.have && !recovered {
			c.unrecovered.Add(1)
		}
		c.pos, c.ep, c.have = s.Offset, s.Epoch, true
		c.subscribedAt.Store(time.Now().UnixNano())
		c.live.Store(true)
	case f.Push != nil && f.Push.Pub != nil:
		if c.have && f.Push.Pub.Offset <= c.pos {
			return
		}
		c.pos = f.Push.Pub.Offset
		c.record(f.Push.Pub.Data)
	}
}

// record counts message data "r<n>". Called with mu held.
func (c *restartClient) record(data json.RawMessage) {
	s := strings.Trim(string(data), `"`)
	if n, err := strconv.ParseUint(strings.TrimPrefix(s, "r"), 10, 64); err == nil && strings.HasPrefix(s, "r") {
		c.got[n]++
		c.lastAt.Store(time.Now().UnixNano())
	}
}
