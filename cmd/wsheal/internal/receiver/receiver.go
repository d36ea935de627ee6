// Package receiver is a webhook receiver that stands in for Slack,
// PagerDuty and Alertmanager receivers in demos and tests: it accepts any
// JSON POST, keeps the last ones in memory, prints a line for each, and
// lists them at GET /received.
package receiver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxBody bounds one request; PagerDuty's own limit is 512 KB.
const maxBody = 1 << 20

// Received is one request as it arrived.
type Received struct {
	Time    time.Time       `json:"time"`
	Path    string          `json:"path"`
	Headers http.Header     `json:"headers"`
	Body    json.RawMessage `json:"body"`
}

// Receiver is an http.Handler.
type Receiver struct {
	out  io.Writer
	keep int

	mu  sync.Mutex
	got []Received
}

// New returns a receiver that keeps the last keep requests and writes a
// line per request to out (nil: none).
func New(out io.Writer, keep int) *Receiver {
	if keep <= 0 {
		keep = 1000
	}
	return &Receiver{out: out, keep: keep}
}

// ServeHTTP accepts POSTs anywhere, GET /received lists them, GET /healthz is ok.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.Method == http.MethodGet && req.URL.Path == "/healthz":
		_, _ = io.WriteString(w, "ok\n")
	case req.Method == http.MethodGet && req.URL.Path == "/received":
		r.mu.Lock()
		b, _ := json.Marshal(r.got)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case req.Method == http.MethodPost:
		r.accept(w, req)
	default:
		http.Error(w, "POST a JSON body, or GET /received", http.StatusMethodNotAllowed)
	}
}

func (r *Receiver) accept(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if !json.Valid(body) {
		http.Error(w, "body is not JSON", http.StatusBadRequest)
		return
	}
	rec := Received{Time: time.Now().UTC(), Path: req.URL.Path, Headers: req.Header.Clone(), Body: body}
	r.mu.Lock()
	r.got = append(r.got, rec)
	if len(r.got) > r.keep {
		r.got = r.got[len(r.got)-r.keep:]
	}
	r.mu.Unlock()
	if r.out != nil {
		fmt.Fprintf(r.out, "%s  received %s %s\n", rec.Time.Local().Format("15:04:05"), req.URL.Path, summary(body))
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"success","message":"Event processed"}`)
}

// summary picks a readable line out of the common payload shapes.
func summary(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	for _, path := range [][]string{{"payload", "summary"}, {"text"}, {"commonAnnotations", "summary"}, {"title"}, {"incident", "title"}} {
		if s, ok := dig(m, path); ok {
			if a, ok := m["event_action"].(string); ok {
				return a + ": " + s
			}
			return s
		}
	}
	return fmt.Sprintf("(%d bytes)", len(body))
}

func dig(m map[string]any, path []string) (string, bool) {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		cur = mm[k]
	}
	s, ok := cur.(string)
	return s, ok && s != ""
}
