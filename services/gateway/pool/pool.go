package pool

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// Errors of the pool.
var (
	ErrDraining = errors.New("pool: draining")
	ErrFull     = errors.New("pool: connection limit reached")
	ErrRate     = errors.New("pool: accept rate exceeded")
	ErrMemory   = errors.New("pool: memory budget exceeded")
)

// Handler is the protocol spoken over the connections. Its calls for one
// connection happen one at a time, in order, driven by that connection's
// read loop (Message on a short-lived goroutine the loop waits for).
type Handler interface {
	Open(c *Conn)
	Message(c *Conn, data []byte)
	Close(c *Conn, cause string)
}

// Notifier receives notable connection events (stale close, slow consumer,
// rate limited); it must not block.
type Notifier func(kind string, c *Conn, detail string)

// Pool holds the connections of a node.
type Pool struct {
	cfg     Limits
	log     zerolog.Logger
	handler Handler
	notify  Notifier
	up      *gws.Upgrader
	limiter *rate.Limiter
	shards  []*shard

	maxConns     atomic.Int64
	pingInterval atomic.Int64
	pongDeadline atomic.Int64
	idleTimeout  atomic.Int64
	draining     atomic.Bool

	count   atomic.Int64 // admitted: open plus upgrading
	open    atomic.Int64
	backlog atomic.Int64
	// backlogBytes are the bytes of the frames counted in backlog.
	backlogBytes atomic.Int64
	memory       atomic.Int64 // last reading of the runtime's memory, bytes
	stats        counters
	rtt          *rttHist
	// OnRTT, if set before Run, observes every measured round trip.
	OnRTT func(time.Duration)
}

// New builds a pool; Run starts its scanners.
func New(cfg Limits, h Handler, notify Notifier, log zerolog.Logger) *Pool {
	cfg = cfg.withDefaults()
	if cfg.Shards <= 0 {
		cfg.Shards = 8
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = 1024
	}
	if cfg.AcceptBurst <= 0 {
		cfg.AcceptBurst = 1
	}
	if notify == nil {
		notify = func(string, *Conn, string) {}
	}
	p := &Pool{
		cfg:     cfg,
		log:     log.With().Str("component", "pool").Logger(),
		handler: h,
		notify:  notify,
		limiter: rate.NewLimiter(rate.Limit(cfg.AcceptRate), cfg.AcceptBurst),
		rtt:     newRTTHist(),
	}
	p.maxConns.Store(int64(cfg.MaxConns))
	p.pingInterval.Store(int64(cfg.PingInterval))
	p.pongDeadline.Store(int64(cfg.PongDeadline))
	p.idleTimeout.Store(int64(cfg.IdleTimeout))
	for range cfg.Shards {
		p.shards = append(p.shards, &shard{pool: p})
	}
	p.up = gws.NewUpgrader(&socketHandler{p: p}, &gws.ServerOption{
		ReadMaxPayloadSize:  cfg.MaxMessage,
		WriteMaxPayloadSize: 16 << 20,
		ReadBufferSize:      readBuffer,
		HandshakeTimeout:    cfg.HandshakeTimeout,
		CheckUtf8Enabled:    true,
		Logger:              gwsLogger{p.log},
		NewSession:          newSlot,
	})
	return p
}

// readBuffer is each connection's read buffer, held for its whole life.
// Clients send little (subscribes, acks, small publishes), a few frames
// per read; a larger payload is read straight into its message buffer
// past the buffered part. 4 KiB (gws's default) cost 3.5 KiB more per
// idle connection (bench suite, 15,000 connections: 11.3 KiB of RSS each
// at 512 B, 14.6 at 4 KiB).
const readBuffer = 512

// Admit reserves a connection slot before an upgrade. On error the caller
// answers 503 with Retry-After(retry); on success it must call Upgrade or
// Release.
func (p *Pool) Admit() (retry time.Duration, err error) {
	if p.draining.Load() {
		p.stats.rejected.Add(1)
		return 5 * time.Second, ErrDraining
	}
	if p.overBudget(admitShare) {
		p.stats.rejected.Add(1)
		p.stats.shed.Add(1)
		return 5 * time.Second, ErrMemory
	}
	if n := p.count.Add(1); n > p.maxConns.Load() {
		p.count.Add(-1)
		p.stats.rejected.Add(1)
		return time.Second, ErrFull
	}
	r := p.limiter.Reserve()
	if !r.OK() || r.Delay() > 0 {
		wait := time.Second
		if r.OK() {
			wait = r.Delay()
			r.Cancel()
		}
		p.count.Add(-1)
		p.stats.rejected.Add(1)
		return wait, ErrRate
	}
	return 0, nil
}

// Release gives back a slot reserved by Admit that was not upgraded.
func (p *Pool) Release() { p.count.Add(-1) }

// Accept is what the caller knows of an admitted connection.
type Accept struct {
	// Data becomes Conn.Data.
	Data any
	// Expires (zero for none) closes the connection with
	// frame.CloseTokenExpired when it passes.
	Expires time.Time
	// Remote is the peer as the caller resolved it (the client address
	// behind a trusted proxy); default: the request's RemoteAddr.
	Remote string
	// OnClose, if set, runs once after the handler's Close, or at once if
	// the upgrade fails: where the caller gives back what it reserved.
	OnClose func()
}

// Upgrade upgrades an admitted request. The read loop runs on its own
// goroutine; the handler's Open is its first call.
func (p *Pool) Upgrade(w http.ResponseWriter, r *http.Request, a Accept) (*Conn, error) {
	ws, err := p.up.Upgrade(w, r)
	if err != nil {
		p.count.Add(-1)
		if a.OnClose != nil {
			a.OnClose()
		}
		return nil, fmt.Errorf("pool: upgrade: %w", err)
	}
	now := time.Now().UnixNano()
	remote := a.Remote
	if remote == "" {
		remote = r.RemoteAddr
	}
	c := &Conn{ws: ws, pool: p, id: nuid.Next(), remote: remote, opened: now, Data: a.Data, release: a.OnClose}
	c.flushTask = c.flush
	if !a.Expires.IsZero() {
		c.expires = a.Expires.UnixNano()
	}
	c.lastActive.Store(now)
	ws.Session().Store("", c) // before the read loop: no lock needed
	p.open.Add(1)
	p.stats.opened.Add(1)
	sh := p.shards[rand.IntN(len(p.shards))]
	sh.add(c, now)
	go p.readLoop(c)
	return c, nil
}

// Refuse upgrades a request only to close it at once with code: how a
// browser learns why (an HTTP status is invisible to it). The connection
// is never counted as open.
func (p *Pool) Refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	ws, err := p.up.Upgrade(w, r)
	if err != nil {
		return
	}
	_ = ws.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
	_ = ws.WriteClose(uint16(code), []byte(reason))
}

// SetDraining stops (true) or resumes (false) admission.
func (p *Pool) SetDraining(on bool) { p.draining.Store(on) }

// Draining reports whether admission is stopped.
func (p *Pool) Draining() bool { return p.draining.Load() }

// Len is the number of open connections.
func (p *Pool) Len() int { return int(p.open.Load()) }

// Conns returns the open connections that keep returns true for (all if
// keep is nil), in no particular order.
func (p *Pool) Conns(keep func(*Conn) bool) []*Conn {
	var out []*Conn
	for _, sh := range p.shards {
		out = sh.collect(out, keep)
	}
	return out
}

// Kill drops every connection without a close frame (a crash as clients
// see it). Used to simulate a node failure.
func (p *Pool) Kill() {
	for _, c := range p.Conns(nil) {
		c.kill()
	}
}

func (p *Pool) notable(kind string, c *Conn, detail string) { p.notify(kind, c, detail) }

// gwsLogger routes gws's own log lines to zerolog.
type gwsLogger struct{ log zerolog.Logger }

// Error implements gws.Logger.
func (l gwsLogger) Error(v ...any) { l.log.Error().Msg(fmt.Sprint(v...)) }
