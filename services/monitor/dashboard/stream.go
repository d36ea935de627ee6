package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/events/redact"
)

// clientBuffer is how many frames a stream may fall behind before it is
// dropped (its EventSource reconnects and reloads the snapshot).
const clientBuffer = 256

// keepAlive is the interval of SSE comments that keep proxies from
// closing an idle stream.
const keepAlive = 15 * time.Second

// hub fans SSE frames out to the open streams. A stream that cannot keep
// up is closed rather than allowed to grow without bound.
type hub struct {
	mu      sync.Mutex
	clients map[chan []byte]struct{}
	closed  bool
}

func newHub() *hub { return &hub{clients: map[chan []byte]struct{}{}} }

// join adds a stream; ok is false once the hub is closed.
func (h *hub) join() (chan []byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	ch := make(chan []byte, clientBuffer)
	h.clients[ch] = struct{}{}
	return ch, true
}

// leave removes a stream (a no-op if the hub already dropped it).
func (h *hub) leave(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[ch]; ok {
		delete(h.clients, ch)
		close(ch)
	}
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// broadcast sends one event to every stream.
func (h *hub) broadcast(event string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	data = redact.Bytes(data) // no secret reaches a browser
	frame := fmt.Appendf(nil, "event: %s\ndata: %s\n\n", event, data)
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.clients {
		select {
		case ch <- frame:
		default:
			delete(h.clients, ch)
			close(ch)
		}
	}
}

// close ends every stream; later joins fail until reopen.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.clients {
		delete(h.clients, ch)
		close(ch)
	}
	h.closed = true
}

// reopen lets streams join again (Run after a previous Run).
func (h *hub) reopen() {
	h.mu.Lock()
	h.closed = false
	h.mu.Unlock()
}

// stream serves /dash/stream: a hello, then the hub's events, with
// keep-alive comments, until the client goes or the dashboard stops.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) {
	ch, ok := d.hub.join()
	if !ok {
		writeErr(w, http.StatusServiceUnavailable, ErrNoNATS)
		return
	}
	defer d.hub.leave(ch)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any server write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, nerr := d.conn()
	hello, _ := json.Marshal(map[string]any{"nats": nerr == nil, "at": time.Now().UTC()})
	if _, err := fmt.Fprintf(w, "retry: 2000\n\nevent: hello\ndata: %s\n\n", hello); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	ka := time.NewTicker(keepAlive)
	defer ka.Stop()
	for {
		var frame []byte
		select {
		case <-r.Context().Done():
			return
		case f, open := <-ch:
			if !open {
				return
			}
			frame = f
		case <-ka.C:
			frame = []byte(": keep-alive\n\n")
		}
		if _, err := w.Write(frame); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}
