package dev

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// throttle passes at most one complete line per period to w, prefixed:
// the demo load prints progress every second, the terminal wants less.
type throttle struct {
	w      io.Writer
	prefix string
	every  time.Duration

	mu   sync.Mutex
	buf  []byte
	last time.Time
}

func newThrottle(w io.Writer, prefix string, every time.Duration) *throttle {
	return &throttle{w: w, prefix: prefix, every: every}
}

func (t *throttle) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		line := t.buf[:i+1]
		if now := time.Now(); now.Sub(t.last) >= t.every {
			t.last = now
			_, _ = io.WriteString(t.w, now.Format("15:04:05")+"  "+t.prefix+string(bytes.TrimLeft(line, " ")))
		}
		t.buf = t.buf[i+1:]
	}
	if len(t.buf) > 64<<10 { // a line that never ends
		t.buf = t.buf[:0]
	}
	return len(p), nil
}
