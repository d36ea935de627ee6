package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// out is a client frame as docs/protocol.md describes it.
type out struct {
	Op      string          `json:"op"`
	ID      uint64          `json:"id,omitempty"`
	Channel string          `json:"channel,omitempty"`
	Since   *uint64         `json:"since,omitempty"`
	Epoch   string          `json:"epoch,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Idem    string          `json:"idem,omitempty"`
}

// in is a server frame as docs/protocol.md describes it; unknown fields
// are ignored, as the document asks of clients.
type in struct {
	Op        string          `json:"op"`
	ID        uint64          `json:"id"`
	Channel   string          `json:"channel"`
	Seq       uint64          `json:"seq"`
	Data      json.RawMessage `json:"data"`
	Recovered *bool           `json:"recovered"`
	Duplicate bool            `json:"duplicate"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
	Node      string          `json:"node"`
	Epoch     string          `json:"epoch"`
	AfterMS   int64           `json:"after_ms"`
	URL       string          `json:"url"`
}

// wire is one WebSocket connection to a gateway. Every server frame after
// hello goes to handle, on the read goroutine. Stall blocks that
// goroutine (a reader that stops reading: TCP pushes back to the node).
type wire struct {
	ws     *gws.Conn
	nc     net.Conn
	hello  in
	handle func(in)
	helloc chan in
	closed chan struct{}
	code   atomic.Int32
	nextID atomic.Uint64
	gate   sync.RWMutex
	wmu    sync.Mutex
	pace   atomic.Int64 // nanoseconds the reader spends per frame (a slow reader)
}

// errNoHello is a connection that never said hello.
var errNoHello = errors.New("no hello within 5s")

// dialWire connects to ws://addr/ws?v=1 with the given receive buffer
// (0: the system's) and waits for hello.
func dialWire(addr string, rcvbuf int, handle func(in)) (*wire, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if rcvbuf > 0 {
		_ = nc.(*net.TCPConn).SetReadBuffer(rcvbuf)
	}
	w := &wire{nc: nc, handle: handle, helloc: make(chan in, 1), closed: make(chan struct{})}
	w.code.Store(-1)
	ws, resp, err := gws.NewClientFromConn(w, &gws.ClientOption{Addr: "ws://" + addr + "/ws?v=1",
		ReadMaxPayloadSize: 1 << 20, HandshakeTimeout: 2 * time.Second}, nc)
	if err != nil {
		_ = nc.Close()
		if resp != nil {
			return nil, fmt.Errorf("upgrade: %s: %w", resp.Status, err)
		}
		return nil, err
	}
	w.ws = ws
	go ws.ReadLoop()
	select {
	case w.hello = <-w.helloc:
		return w, nil
	case <-w.closed:
		return nil, fmt.Errorf("closed before hello (code %d)", w.code.Load())
	case <-time.After(5 * time.Second):
		_ = nc.Close()
		return nil, errNoHello
	}
}

// send writes one frame, giving it the next id when it needs one.
func (w *wire) send(f out) (uint64, error) {
	if f.ID == 0 && f.Op != "ping" {
		f.ID = w.nextID.Add(1)
	}
	b, err := json.Marshal(f)
	if err != nil {
		return 0, err
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return f.ID, w.ws.WriteMessage(gws.OpcodeText, b)
}

// stall stops reading until the returned function is called.
func (w *wire) stall() func() {
	w.gate.Lock()
	return w.gate.Unlock
}

// cut drops the connection without a close frame.
func (w *wire) cut() { _ = w.nc.Close() }

// OnOpen is part of gws.Event.
func (w *wire) OnOpen(*gws.Conn) {}

// OnClose records the close code (-1: the connection vanished).
func (w *wire) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		w.code.Store(int32(ce.Code))
	}
	close(w.closed)
}

// OnPing answers with the same payload, as the document asks.
func (w *wire) OnPing(ws *gws.Conn, p []byte) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_ = ws.WritePong(p)
}

// OnPong is part of gws.Event.
func (w *wire) OnPong(*gws.Conn, []byte) {}

// OnMessage decodes a server frame and hands it on.
func (w *wire) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	if d := w.pace.Load(); d > 0 {
		time.Sleep(time.Duration(d)) // a slow application
	}
	w.gate.RLock()
	defer w.gate.RUnlock()
	var f in
	if err := json.Unmarshal(m.Bytes(), &f); err != nil {
		f = in{Op: "undecodable", Message: err.Error() + ": " + string(m.Bytes())}
	}
	if f.Op == "hello" {
		select {
		case w.helloc <- f:
		default:
		}
		return
	}
	w.handle(f)
}

// discover asks a node's /v1/connect where to go and returns host:port.
func discover(addr string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/v1/connect")
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/v1/connect: %s", resp.Status)
	}
	var a struct {
		URL string `json:"url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return "", err
	}
	var host string
	if _, err := fmt.Sscanf(a.URL, "ws://%s", &host); err != nil {
		return "", fmt.Errorf("/v1/connect url %q: %w", a.URL, err)
	}
	if i := len(host) - len("/ws"); i > 0 && host[i:] == "/ws" {
		host = host[:i]
	}
	return host, nil
}
