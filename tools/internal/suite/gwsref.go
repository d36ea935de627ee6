package suite

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lxzan/gws"
	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/services/gateway/auth"
)

// gwsRef is the raw gws reference: net/http with a gws Upgrader, the same
// JWT check as wsheal, and per channel one core NATS subscription whose
// messages are written as they are to every client of the channel. No
// protocol, no resume, no pings, no bounds: the floor.
type gwsRef struct {
	url string
	nc  *nats.Conn
	ln  net.Listener
	up  *gws.Upgrader
	ver *auth.Verifier

	mu       sync.RWMutex
	channels map[string]*refChannel
}

type refChannel struct {
	sub     *nats.Subscription
	members map[*gws.Conn]struct{}
}

// refConn is a client's session: its channels (read goroutine only).
type refConn struct{ channels []string }

func startGwsRef(natsURL, secret string) (*gwsRef, error) {
	nc, err := nats.Connect(natsURL, nats.Name("suite-gws-ref"))
	if err != nil {
		return nil, fmt.Errorf("%w: gws ref: nats: %v", ErrServer, err)
	}
	r := &gwsRef{nc: nc, channels: map[string]*refChannel{}}
	if secret != "" {
		r.ver = auth.NewVerifier(secret)
	}
	r.up = gws.NewUpgrader(r, &gws.ServerOption{
		ReadBufferSize: 4 << 10,
		NewSession:     func() gws.SessionStorage { return &refSlot{} },
	})
	if r.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: gws ref: %v", ErrServer, err)
	}
	r.url = "ws://" + r.ln.Addr().String() + "/ws"
	srv := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(r.ln) }()
	return r, nil
}

func (r *gwsRef) close() {
	_ = r.ln.Close()
	r.nc.Close()
}

func (r *gwsRef) serve(w http.ResponseWriter, req *http.Request) {
	if r.ver != nil {
		if _, err := r.ver.Verify(req); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	ws, err := r.up.Upgrade(w, req)
	if err != nil {
		return
	}
	ws.Session().Store("", &refConn{})
	go ws.ReadLoop()
}

// OnOpen implements gws.Event.
func (r *gwsRef) OnOpen(*gws.Conn) {}

// OnPing implements gws.Event.
func (r *gwsRef) OnPing(ws *gws.Conn, p []byte) { _ = ws.WritePong(p) }

// OnPong implements gws.Event.
func (r *gwsRef) OnPong(*gws.Conn, []byte) {}

// OnClose implements gws.Event: leave every channel.
func (r *gwsRef) OnClose(ws *gws.Conn, _ error) {
	rc := sessionOf(ws)
	if rc == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range rc.channels {
		if ch := r.channels[name]; ch != nil {
			delete(ch.members, ws)
		}
	}
}

// OnMessage implements gws.Event: "sub <channel>" joins and answers
// "ok <channel>".
func (r *gwsRef) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	name, ok := bytes.CutPrefix(m.Bytes(), []byte("sub "))
	rc := sessionOf(ws)
	if !ok || rc == nil {
		return
	}
	channel := string(name)
	if err := r.join(channel, ws); err != nil {
		_ = ws.WriteString("error " + err.Error())
		return
	}
	rc.channels = append(rc.channels, channel)
	_ = ws.WriteString("ok " + channel)
}

func (r *gwsRef) join(name string, ws *gws.Conn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.channels[name]
	if ch == nil {
		ch = &refChannel{members: map[*gws.Conn]struct{}{}}
		sub, err := r.nc.Subscribe(subject(name), func(m *nats.Msg) { r.fanOut(ch, m.Data) })
		if err != nil {
			return err
		}
		_ = sub.SetPendingLimits(-1, -1)
		ch.sub = sub
		r.channels[name] = ch
	}
	ch.members[ws] = struct{}{}
	return nil
}

func (r *gwsRef) fanOut(ch *refChannel, data []byte) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for ws := range ch.members {
		ws.WriteAsync(gws.OpcodeText, data, nil)
	}
}

func sessionOf(ws *gws.Conn) *refConn {
	if s, ok := ws.Session().(*refSlot); ok {
		return s.c
	}
	return nil
}

// refSlot is the reference's gws session: one pointer instead of gws's
// default map.
type refSlot struct{ c *refConn }

// Len implements gws.SessionStorage.
func (s *refSlot) Len() int { return 1 }

// Load implements gws.SessionStorage.
func (s *refSlot) Load(string) (any, bool) { return s.c, s.c != nil }

// Delete implements gws.SessionStorage.
func (s *refSlot) Delete(string) { s.c = nil }

// Store implements gws.SessionStorage.
func (s *refSlot) Store(_ string, v any) { s.c, _ = v.(*refConn) }

// Range implements gws.SessionStorage.
func (s *refSlot) Range(f func(string, any) bool) { f("", s.c) }
