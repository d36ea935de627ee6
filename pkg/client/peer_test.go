package client

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// peer is a small gateway stand-in on a real socket: it speaks protocol v1
// (hello, subscribe with since and recovered, publish with idem, pings,
// close codes, reconnect hints) over an in-memory channel log.
type peer struct {
	t       testing.TB
	URL     string
	node    string
	token   string // required when set
	expired string // a token answered with close 4102
	http    bool   // refuse a bad token with HTTP 401 instead of close 4101
	ping    time.Duration

	srv *http.Server
	up  *gws.Upgrader
	hub *peerHub

	mu       sync.Mutex
	conns    map[*gws.Conn]map[string]bool
	accepts  int
	silent   bool   // no hello pings and no answers: a half-open peer
	dropNext bool   // store the next publish, then cut the socket unacked
	kick     uint16 // close every socket with this code right after hello
	busy     int    // refuse this many upgrades with 503 and Retry-After: 1
}

// peerHub is the channel log shared by peers (a stand-in for JetStream).
type peerHub struct {
	mu        sync.Mutex
	seq       uint64
	log       map[string][]peerMsg
	idem      map[string]uint64
	trimBelow uint64 // resumes from below this answer recovered:false
	peers     []*peer
	live      int // sockets open across all peers
}

type peerMsg struct {
	seq  uint64
	data []byte
}

func newHub() *peerHub {
	return &peerHub{log: map[string][]peerMsg{}, idem: map[string]uint64{}}
}

func startPeer(t testing.TB, hub *peerHub, node string) *peer {
	t.Helper()
	p := &peer{t: t, node: node, hub: hub, ping: time.Second, conns: map[*gws.Conn]map[string]bool{}}
	p.up = gws.NewUpgrader(&peerHandler{p: p}, &gws.ServerOption{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.URL = "ws://" + ln.Addr().String() + "/ws"
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	hub.mu.Lock()
	hub.peers = append(hub.peers, p)
	hub.mu.Unlock()
	t.Cleanup(p.kill)
	return p
}

func (p *peer) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	busy := p.busy > 0
	if busy {
		p.busy--
	}
	p.mu.Unlock()
	if busy {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "admission: busy", http.StatusServiceUnavailable)
		return
	}
	if tok := r.URL.Query().Get("token"); tok == p.expired && tok != "" {
		if conn, err := p.up.Upgrade(w, r); err == nil {
			_ = conn.WriteClose(frame.CloseTokenExpired, []byte("token expired"))
		}
		return
	}
	bad := p.token != "" && r.URL.Query().Get("token") != p.token
	if bad && p.http {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	conn, err := p.up.Upgrade(w, r)
	if err != nil {
		return
	}
	if bad {
		_ = conn.WriteClose(frame.CloseUnauthorized, []byte("invalid token"))
		return
	}
	p.mu.Lock()
	p.accepts++
	p.conns[conn] = map[string]bool{}
	p.mu.Unlock()
	p.hub.mu.Lock()
	p.hub.live++
	p.hub.mu.Unlock()
	go conn.ReadLoop()
}

// kill stops the peer abruptly: listener and sockets cut, no close frame.
func (p *peer) kill() {
	_ = p.srv.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.NetConn().Close()
	}
}

// closeAll ends every socket with a close code.
func (p *peer) closeAll(code uint16) {
	for _, c := range p.sockets() {
		_ = c.WriteClose(code, nil)
	}
}

// send writes a raw frame to every socket.
func (p *peer) send(b []byte) {
	for _, c := range p.sockets() {
		_ = c.WriteMessage(gws.OpcodeText, b)
	}
}

func (p *peer) sockets() []*gws.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*gws.Conn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

func (p *peer) acceptCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

func (p *peer) setSilent(v bool) {
	p.mu.Lock()
	p.silent = v
	p.mu.Unlock()
}

func (p *peer) isSilent() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.silent
}

// publish stores a message as if another client published it and fans it
// out to the subscribers on every peer.
func (h *peerHub) publish(channel string, data []byte, idem string) (seq uint64, dup bool) {
	h.mu.Lock()
	if s, ok := h.idem[idem]; ok && idem != "" {
		h.mu.Unlock()
		return s, true
	}
	h.seq++
	seq = h.seq
	if idem != "" {
		h.idem[idem] = seq
	}
	h.log[channel] = append(h.log[channel], peerMsg{seq: seq, data: data})
	defer h.mu.Unlock() // fan out in order
	b := frame.AppendMessage(nil, channel, seq, data)
	for _, p := range h.peers {
		p.mu.Lock()
		for c, subs := range p.conns {
			if subs[channel] {
				_ = c.WriteMessage(gws.OpcodeText, b)
			}
		}
		p.mu.Unlock()
	}
	return seq, false
}

func (h *peerHub) stored(channel string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.log[channel])
}

func (h *peerHub) setTrim(seq uint64) {
	h.mu.Lock()
	h.trimBelow = seq
	h.mu.Unlock()
}

// pingLoop pings a socket until it closes.
func (p *peer) pingLoop(ctx context.Context, c *gws.Conn) {
	t := time.NewTicker(p.ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !p.isSilent() {
				_ = c.WritePing(nil)
			}
		}
	}
}

func writeJSON(c *gws.Conn, f frame.Server) {
	_ = c.WriteMessage(gws.OpcodeText, f.Encode())
}
