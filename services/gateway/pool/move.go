package pool

import (
	"context"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// moveStep is how often a paced move sends its next batch of hints.
const moveStep = 20 * time.Millisecond

// Move sends each connection the frame hint(c) (a reconnect hint), then
// closes it with code after the hint is written, counted as drained. The
// connections are spread evenly over the duration so that the nodes that
// receive them never see a storm. progress, if not nil, is called with the
// number moved so far after each batch. Move returns the number moved
// when done or when ctx ends.
func (p *Pool) Move(ctx context.Context, conns []*Conn, over time.Duration, code int,
	hint func(c *Conn) []byte, progress func(moved int)) int {
	start := time.Now()
	moved, i := 0, 0
	t := time.NewTicker(moveStep)
	defer t.Stop()
	for i < len(conns) {
		due := len(conns)
		if el := time.Since(start); el < over {
			// Connection i goes at i*over/n: the first at once, the
			// last one step before the end.
			due = min(int(int64(len(conns))*int64(el)/int64(over))+1, len(conns))
		}
		for ; i < due; i++ {
			if p.moveOne(conns[i], code, hint) {
				moved++
			}
		}
		if progress != nil && due > 0 {
			progress(moved)
		}
		if i >= len(conns) {
			break
		}
		select {
		case <-ctx.Done():
			return moved
		case <-t.C:
		}
	}
	return moved
}

func (p *Pool) moveOne(c *Conn, code int, hint func(c *Conn) []byte) bool {
	if c.Closing() || c.done.Load() {
		return false
	}
	if b := hint(c); b != nil {
		// Bypass the bound: the hint must reach even a busy client. It
		// is counted as every queued frame is (flush takes it off).
		c.inflight.Add(1)
		c.queued.Add(int64(len(b)))
		p.backlog.Add(1)
		p.backlogBytes.Add(int64(len(b)))
		c.enqueue(b)
	}
	return c.CloseAfter(code, events.CauseDrained, "reconnect elsewhere")
}
