package client

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// hint is a server's reconnect frame: reconnect to url (any if empty) at.
type hint struct {
	url string
	at  time.Time
}

// session is one WebSocket: the gws event handler, the stale watchdog and
// the hint timer. Its callbacks run on the connection goroutine.
type session struct {
	gws.BuiltinEventHandler
	c    *Client
	url  string
	conn *gws.Conn

	last    atomic.Int64 // unix nanos of the last frame from the server
	timeout atomic.Int64 // staleness bound in nanos

	mu        sync.Mutex
	watch     *time.Timer
	hintTimer *time.Timer
	hint      *hint
	cause     error // set before the client closes the socket itself
	hello     bool
	helloAt   time.Time
	node      string
	end       error
	code      int
}

func newSession(c *Client, target string) *session {
	return &session{c: c, url: target}
}

// OnOpen arms the watchdog: the hello must come within DialTimeout.
func (s *session) OnOpen(*gws.Conn) {
	s.touch()
	s.timeout.Store(int64(s.c.cfg.DialTimeout))
	s.mu.Lock()
	s.watch = time.AfterFunc(s.c.cfg.DialTimeout, s.check)
	s.mu.Unlock()
}

// OnPing answers the gateway's ping; any frame proves the peer alive.
func (s *session) OnPing(conn *gws.Conn, payload []byte) {
	s.touch()
	_ = conn.WritePong(payload)
}

// OnPong counts as traffic.
func (s *session) OnPong(*gws.Conn, []byte) { s.touch() }

// OnMessage handles one server frame.
func (s *session) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer func() { _ = m.Close() }()
	s.touch()
	if m.Opcode != gws.OpcodeText {
		s.c.log.Warn().Int("opcode", int(m.Opcode)).Msg("ignoring non-text frame")
		return
	}
	s.handle(m.Bytes())
}

// OnClose records why the socket ended and stops the timers.
func (s *session) OnClose(_ *gws.Conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watch != nil {
		s.watch.Stop()
	}
	if s.hintTimer != nil {
		s.hintTimer.Stop()
	}
	s.code, s.end = classify(err)
	if s.cause != nil {
		s.end = s.cause
	}
}

func (s *session) touch() { s.last.Store(time.Now().UnixNano()) }

// check is the watchdog: without traffic for the timeout the socket is
// dead; closing the net.Conn unblocks both the reader and any writer.
func (s *session) check() {
	to := time.Duration(s.timeout.Load())
	idle := time.Since(time.Unix(0, s.last.Load()))
	s.mu.Lock()
	defer s.mu.Unlock()
	if idle < to {
		s.watch.Reset(to - idle)
		return
	}
	if s.hello {
		s.cause = fmt.Errorf("%w: no ping or traffic for %v", ErrStale, idle.Round(time.Millisecond))
	} else {
		s.cause = fmt.Errorf("%w: within %v", ErrNoHello, to)
	}
	_ = s.conn.NetConn().Close()
}

// closeWith closes the socket on the client's initiative.
func (s *session) closeWith(cause error, code uint16, reason string) {
	s.mu.Lock()
	if s.cause == nil {
		s.cause = cause
	}
	s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.WriteClose(code, []byte(reason))
	}
}

func (s *session) write(b []byte) {
	if s.conn == nil { // never dialed: frame-handling fuzz
		return
	}
	if err := s.conn.WriteMessage(gws.OpcodeText, b); err != nil {
		s.c.log.Debug().Err(err).Msg("write failed; resent after reconnect")
	}
}

func (s *session) helloed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hello
}

func (s *session) outcome() outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return outcome{
		err:    s.end,
		code:   s.code,
		hint:   s.hint,
		stable: s.hello && time.Since(s.helloAt) >= s.c.cfg.Backoff.Stable,
	}
}

// onHello: the connection is usable; resubscribe and resend.
func (s *session) onHello(f frame.Server) {
	interval := time.Duration(f.PingIntervalMS) * time.Millisecond
	if interval <= 0 {
		interval = DefaultPingInterval
	}
	s.mu.Lock()
	if s.hello {
		s.mu.Unlock()
		return
	}
	s.hello, s.helloAt, s.node = true, time.Now(), f.Node
	s.mu.Unlock()
	s.timeout.Store(int64(interval + s.c.cfg.StaleGrace))
	if f.Version != 0 && f.Version != frame.ProtocolVersion {
		s.c.log.Warn().Int("version", f.Version).Msg("gateway speaks another protocol version")
	}
	s.c.online(s)
	s.c.emit(State{Kind: Connected, URL: s.url, Node: f.Node, Session: f.Session})
	s.c.once.Do(func() { close(s.c.first) })
}

// onHint: reconnect after the delay, to the URL if one is given. The
// socket is kept until then (the server may close it first).
func (s *session) onHint(f frame.Server) {
	after := min(max(time.Duration(f.AfterMS)*time.Millisecond, 0), MaxHintDelay)
	h := &hint{at: time.Now().Add(after)}
	if u, err := url.Parse(f.URL); err == nil && (u.Scheme == "ws" || u.Scheme == "wss") && u.Host != "" {
		h.url = f.URL
	}
	s.c.log.Info().Dur("after", after).Str("url", h.url).Str("reason", f.Reason).Msg("server asked to reconnect")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hint = h
	if s.hintTimer != nil {
		s.hintTimer.Stop()
	}
	s.hintTimer = time.AfterFunc(after, func() {
		s.closeWith(fmt.Errorf("%w: %s", ErrHint, f.Reason), 1000, "reconnect hint")
	})
}
