package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// This file moves the positions of quiet channels' subscribers forward
// (the package doc, "Positions of quiet channels", states the rule).

// markChunk is how many channels one multi-last direct get asks about:
// the server answers at most 1,024, and each answer carries the channel's
// last message (up to the stream's message size), so a chunk stays small.
const markChunk = 64

// markStale is how many ticks old the stream state a tick starts from
// may be before the tick reads it again: without candidates a tick costs
// no request.
const markStale = 10

// hdrUpTo is the stream's last sequence at a multi-last read (its end of
// batch).
const hdrUpTo = "Nats-UpTo-Sequence"

// multiLast is one multi-last direct get: the channels' last stored
// sequences in one snapshot of the stream.
type multiLast struct {
	// last maps a channel with a stored message to its last sequence; a
	// channel absent from it had none, unless truncated.
	last map[string]uint64
	// upTo is the stream's last sequence at the snapshot (0: unknown).
	upTo uint64
	// truncated: the server did not answer for every channel asked.
	truncated bool
}

// markLoop moves quiet channels' positions every Config.MarkEvery until
// the hub closes.
func (h *Hub) markLoop() {
	tick := time.NewTicker(h.cfg.MarkEvery)
	defer tick.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-tick.C:
			h.markTick()
		}
	}
}

// markCandidate is a topic with a subscriber whose position lags.
type markCandidate struct {
	t   *topic
	low uint64 // the lowest position of its members
}

// markTick reads the stream's state, picks at most Config.MarkBatch
// channels whose lowest subscriber position is in the older half of what
// the stream holds, reads their last messages in chunks, reads the
// stream's first sequence again, and advances every position the reads
// prove.
func (h *Hub) markTick() {
	h.mu.Lock()
	idle := len(h.channels) == 0
	h.mu.Unlock()
	if idle {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.FetchTimeout)
	defer cancel()
	// The state as last read (by resumes, or the node's health report)
	// will do: it is read before the snapshot, and only picks candidates.
	st := h.known()
	if stale := markStale * h.cfg.MarkEvery; time.Since(st.read) > stale {
		var err error
		if st, err = h.cachedStream(ctx, stale); err != nil {
			return
		}
	}
	cands := h.markCandidates(st)
	if len(cands) == 0 {
		return
	}
	reads := make([]multiLast, 0, (len(cands)+markChunk-1)/markChunk)
	for chunk := range slices.Chunk(cands, markChunk) {
		names := make([]string, len(chunk))
		for i, c := range chunk {
			names[i] = c.t.name
		}
		ml, err := h.readLasts(ctx, names)
		if err != nil {
			return
		}
		if ml.upTo == 0 { // none of them has a message: the state read before is a bound
			ml.upTo = st.last
		}
		reads = append(reads, ml)
	}
	after, err := h.streamAfter(ctx, time.Now())
	if err != nil || after.epoch != st.epoch {
		return
	}
	for i, c := range cands {
		ml := reads[i/markChunk]
		last, ok := ml.last[c.t.name]
		if !ok && ml.truncated {
			continue
		}
		c.t.advance(st.epoch, mark{last: last, first: after.first, upTo: ml.upTo})
	}
}

// markCandidates lists the topics of the stream's epoch with a member
// whose position is in the older half of the stream's span (eviction
// may reach it), lowest first, at most Config.MarkBatch.
func (h *Hub) markCandidates(st streamState) []markCandidate {
	if st.last == 0 || st.epoch == "" {
		return nil
	}
	h.mu.Lock()
	topics := make([]*topic, 0, len(h.channels))
	for _, t := range h.channels {
		topics = append(topics, t)
	}
	h.mu.Unlock()
	half := st.first + (st.last-st.first)/2
	var out []markCandidate
	for _, t := range topics {
		if low, ok := t.lowest(st.epoch); ok && low < st.last && low <= half {
			out = append(out, markCandidate{t: t, low: low})
		}
	}
	slices.SortFunc(out, func(a, b markCandidate) int { return cmpUint(a.low, b.low) })
	return out[:min(len(out), h.cfg.MarkBatch)]
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lowest is the lowest position of t's members in epoch.
func (t *topic) lowest(epoch string) (uint64, bool) {
	select {
	case <-t.primed:
	default:
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.epoch != epoch || len(t.members) == 0 {
		return 0, false
	}
	low := t.members[0].after
	for _, m := range t.members[1:] {
		low = min(low, m.after)
	}
	return max(low, t.last), true
}

// mark is what one tick read about a channel.
type mark struct {
	// last: the channel's last stored sequence in the snapshot (0: none).
	last uint64
	// first: the stream's first sequence read after the snapshot.
	first uint64
	// upTo: the stream's last sequence at the snapshot.
	upTo uint64
}

// proves reports whether the channel has no message in (p, m.upTo]. A
// message m in that range was stored before the snapshot; in it, it was
// either stored (then last >= m > p) or evicted. Eviction is oldest
// first within a channel for every limit: by the stream's limits (age,
// bytes) it removed everything before m (then first > m > p), by the
// per-channel limit it kept newer messages of the channel, stored before
// the snapshot (then last > p, or they were evicted in turn).
func (m mark) proves(p uint64) bool {
	return p < m.upTo && m.last <= p && m.first <= p+1
}

// advance sends a pos frame of m.upTo to every member whose position the
// mark proves and moves it there (member.after). The topic's own position
// stays the last message it handed on: a replay joins the live flow once
// it has reached it. It skips a topic whose flow is busy (a gap being
// filled). Like a fan-out it holds fanMu, not mu, while it delivers.
func (t *topic) advance(epoch string, m mark) {
	if !t.flowMu.TryLock() {
		return
	}
	t.fanRun() // the messages before the pos frame go first
	t.fanMu.Lock()
	t.mu.Lock()
	if t.stopped || t.epoch != epoch {
		t.mu.Unlock()
		t.fanMu.Unlock()
		t.flowMu.Unlock()
		return
	}
	// Under fanMu and flowMu no fan-out, removal or new epoch changes
	// the snapshot's members or last; joins only append past it.
	members, last := t.members, t.last
	t.mu.Unlock()
	var f []byte
	var moved, slow []Subscriber
	for _, mb := range members {
		if !m.proves(max(mb.after, last)) {
			continue
		}
		if f == nil {
			f = frame.AppendPosition(make([]byte, 0, len(t.name)+48), t.name, m.upTo)
		}
		if mb.sub.Deliver(f) {
			moved = append(moved, mb.sub)
		} else {
			slow = append(slow, mb.sub)
		}
	}
	t.mu.Lock()
	for _, s := range moved {
		if i, ok := t.joined[s]; ok {
			t.members[i].after = max(t.members[i].after, m.upTo)
		}
	}
	dropped := 0
	for _, s := range slow {
		if t.removeLocked(s) {
			dropped++
		}
	}
	t.mu.Unlock()
	t.fanMu.Unlock()
	t.flowMu.Unlock()
	t.hub.marked.Add(uint64(len(moved)))
	for range dropped {
		t.hub.dropped.Add(1)
		t.hub.release(t)
	}
}

// multiLastRequest is the body of a multi-last direct get.
type multiLastRequest struct {
	MultiLast []string `json:"multi_last"`
}

// readLasts reads, with one multi-last direct get (a snapshot of the
// stream), the last stored sequence of each channel.
func (h *Hub) readLasts(ctx context.Context, channels []string) (multiLast, error) {
	subjects := make([]string, len(channels))
	for i, c := range channels {
		subjects[i] = events.ChannelSubject(c)
	}
	req, _ := json.Marshal(multiLastRequest{MultiLast: subjects})
	// One answer per subject at most, and the end of the batch; room for
	// more, as the check of the end allows for.
	replies, done, err := h.directBatch(req, 2*len(channels)+16)
	if err != nil {
		return multiLast{}, h.natsErr("multi-last", err)
	}
	defer done()
	ml := multiLast{last: make(map[string]uint64, len(channels))}
	for {
		msg, err := nextReply(ctx, replies)
		if err != nil {
			return multiLast{}, h.natsErr("multi-last", err)
		}
		r, err := parseDirect(msg.Header)
		if err != nil {
			return multiLast{}, fmt.Errorf("%w: multi-last: %v", ErrUnavailable, err)
		}
		switch r.status {
		case "":
			name := events.ChannelName(msg.Header.Get("Nats-Subject"))
			if name == "" {
				return multiLast{}, fmt.Errorf("%w: multi-last: subject %q", errBadReply, msg.Header.Get("Nats-Subject"))
			}
			ml.last[name] = r.seq
		case "404": // none of them has a message
			return ml, nil
		case "204":
			ml.truncated = r.pending > 0 || len(ml.last) > len(channels)
			upTo, err := strconv.ParseUint(msg.Header.Get(hdrUpTo), 10, 64)
			if err != nil {
				return multiLast{}, fmt.Errorf("%w: multi-last: %s %q", errBadReply, hdrUpTo, msg.Header.Get(hdrUpTo))
			}
			ml.upTo = upTo
			return ml, nil
		default:
			return multiLast{}, fmt.Errorf("%w: multi-last: status %s %s", ErrUnavailable, r.status, msg.Header.Get("Description"))
		}
	}
}
