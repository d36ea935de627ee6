package channel

import (
	"encoding/json"
	"sort"
	"time"
	"unicode/utf8"
)

// extendedHold is how long the history keeps messages read back from
// JetStream (beyond HistorySize) so that the resumes that follow a deep one
// are served from memory.
const extendedHold = 30 * time.Second

// entry is one encoded message of a channel.
type entry struct {
	seq   uint64
	frame []byte
}

// history holds every message of a channel with a stream sequence in
// (floor, last], in order. Evicting the oldest raises floor; prepending a
// JetStream replay lowers it.
type history struct {
	buf   []entry
	floor uint64
	// extended: until then the history may hold HistorySize+MaxReplay.
	extended time.Time
}

// push appends e, whose sequence is above every held one.
func (h *history) push(e entry) { h.buf = append(h.buf, e) }

// trim evicts the oldest entries beyond max, raising floor.
func (h *history) trim(max int) {
	n := len(h.buf) - max
	if n <= 0 {
		return
	}
	h.floor = h.buf[n-1].seq
	clear(h.buf[:n]) // release the frames
	h.buf = h.buf[n:]
}

// after returns the held entries with a sequence above seq; the slice is
// the history's own: read it under the topic's lock.
func (h *history) after(seq uint64) []entry {
	i := sort.Search(len(h.buf), func(i int) bool { return h.buf[i].seq > seq })
	return h.buf[i:]
}

// prepend adds es, the messages in (floor, h.floor], below the held ones.
func (h *history) prepend(floor uint64, es []entry, now time.Time) {
	buf := make([]entry, 0, len(es)+len(h.buf))
	buf = append(buf, es...)
	h.buf = append(buf, h.buf...)
	h.floor = floor
	h.extended = now.Add(extendedHold)
}

// historyLimit is how many messages the topic may hold now: HistorySize,
// more for a while after a JetStream replay, and more still while a replay
// is running (its result must join the history without a hole). The
// caller holds t.mu.
func (t *topic) historyLimit(now time.Time) int {
	cfg := t.hub.cfg
	switch {
	case t.fetch != nil:
		return 2 * (cfg.HistorySize + cfg.MaxReplay)
	case now.Before(t.hist.extended):
		return cfg.HistorySize + cfg.MaxReplay
	default:
		return cfg.HistorySize
	}
}

// messageData returns payload as the JSON value of a msg frame: payload
// itself when it is JSON in valid UTF-8 (client publishes always are),
// else payload as a JSON string (invalid UTF-8 becomes U+FFFD), reported
// by quoted. The frame goes out as a WebSocket text frame, which must be
// UTF-8 (json.Valid alone accepts invalid UTF-8 inside strings); checked
// here once per message, not per subscriber.
func messageData(payload []byte) (data []byte, quoted bool) {
	if utf8.Valid(payload) && json.Valid(payload) {
		return payload, false
	}
	b, _ := json.Marshal(string(payload)) // a string always marshals
	return b, true
}
