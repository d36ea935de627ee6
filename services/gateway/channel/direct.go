package channel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// Headers of republished and direct-get messages.
const (
	hdrSequence   = "Nats-Sequence"
	hdrLastSeq    = "Nats-Last-Sequence"
	hdrNumPending = "Nats-Num-Pending"
	hdrStatus     = "Status"
)

// errBadReply: a direct get answered something this package cannot read.
var errBadReply = errors.New("channel: unreadable direct get reply")

// entry is one encoded message of a channel.
type entry struct {
	seq   uint64
	frame []byte
}

// page is one batch direct get of a channel's messages.
type page struct {
	entries []entry
	// count is how many messages of the channel the stream held at or
	// after the page's start when it was read (0 if the page is empty).
	count uint64
	// more: the stream held messages of the channel after the page.
	more bool
}

// directRequest is the body of a direct get ($JS.API.DIRECT.GET.<stream>).
type directRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	LastBy   string `json:"last_by_subj,omitempty"`
	NextBy   string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// readPage reads, with one batch direct get, the messages of channel with
// a stream sequence in [from, upTo] (upTo 0: no bound), at most
// Config.PageSize of them and about Config.PageBytes: memory per read is
// bounded in bytes whatever the gap.
func (h *Hub) readPage(ctx context.Context, channel string, from, upTo uint64) (page, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.FetchTimeout)
	defer cancel()
	req, _ := json.Marshal(directRequest{Seq: from, NextBy: events.ChannelSubject(channel),
		Batch: h.cfg.PageSize, MaxBytes: h.cfg.PageBytes})
	replies, done, err := h.directBatch(req, h.cfg.PageSize+1)
	if err != nil {
		return page{}, h.natsErr(channel, err)
	}
	defer done()
	h.pageReads.Add(1)
	var p page
	for {
		msg, err := nextReply(ctx, replies)
		if err != nil {
			return page{}, h.natsErr(channel, err)
		}
		r, err := parseDirect(msg.Header)
		if err != nil {
			return page{}, fmt.Errorf("%w: %s: %v", ErrUnavailable, channel, err)
		}
		switch r.status {
		case "": // a message
		case "404": // none at or after from
			return p, nil
		case "204": // end of batch
			p.more = p.more || r.pending > 0
			return p, nil
		default:
			return page{}, fmt.Errorf("%w: %s: status %s %s", ErrUnavailable, channel, r.status, msg.Header.Get("Description"))
		}
		if r.seq < from {
			return page{}, fmt.Errorf("%w: %s: sequence %d before %d", ErrUnavailable, channel, r.seq, from)
		}
		if p.entries == nil {
			p.count = r.pending + 1
		}
		if upTo > 0 && r.seq > upTo {
			p.more = true
			return p, nil
		}
		p.entries = append(p.entries, entry{seq: r.seq, frame: h.encode(channel, r.seq, msg.Data)})
	}
}

// directBatch sends a batch direct get and returns the channel its
// answers arrive on, with room for n of them (what the request can bring:
// its batch and the end-of-batch status), and the func that ends the
// subscription. (nats.go's synchronous subscription would allocate a
// queue of 65,536 pointers, 512 KiB, per request: a resume storm of
// 10,000 clients spent most of its CPU clearing them.)
func (h *Hub) directBatch(req []byte, n int) (<-chan *nats.Msg, func(), error) {
	inbox := h.nc.NewInbox()
	replies := make(chan *nats.Msg, n)
	sub, err := h.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, nil, err
	}
	if err := h.nc.PublishRequest(events.ChannelsDirectGet, inbox, req); err != nil {
		_ = sub.Unsubscribe()
		return nil, nil, err
	}
	return replies, func() { _ = sub.Unsubscribe() }, nil
}

// nextReply is the next answer of a direct get, or ctx's error.
func nextReply(ctx context.Context, replies <-chan *nats.Msg) (*nats.Msg, error) {
	select {
	case msg := <-replies:
		return msg, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lastSeq is the stream sequence of channel's newest stored message, 0 if
// it has none, read with a direct get.
func (h *Hub) lastSeq(ctx context.Context, channel string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.FetchTimeout)
	defer cancel()
	req, _ := json.Marshal(directRequest{LastBy: events.ChannelSubject(channel)})
	msg, err := h.nc.RequestWithContext(ctx, events.ChannelsDirectGet, req)
	if err != nil {
		return 0, h.natsErr(channel, err)
	}
	r, err := parseDirect(msg.Header)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrUnavailable, channel, err)
	}
	switch r.status {
	case "":
		return r.seq, nil
	case "404":
		return 0, nil
	}
	return 0, fmt.Errorf("%w: %s: status %s %s", ErrUnavailable, channel, r.status, msg.Header.Get("Description"))
}

// natsErr wraps a NATS failure as ErrUnavailable.
func (h *Hub) natsErr(channel string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, channel, err)
}

// encode builds the msg frame of a message once; a payload that is not
// JSON is carried as a JSON string.
func (h *Hub) encode(channel string, seq uint64, payload []byte) []byte {
	data, quoted := messageData(payload)
	if quoted {
		h.nonJSON.Add(1)
	}
	return frame.AppendMessage(make([]byte, 0, len(channel)+len(data)+48), channel, seq, data)
}

// streamState is what the hub knows of the channel stream.
type streamState struct {
	epoch       string
	first, last uint64
	bytes       uint64
	maxBytes    int64
	perChannel  int64
	consumers   int
	// read is when the request that read this state was sent.
	read time.Time
}

// streamCall is one stream info request in flight, shared by every
// caller that needs the stream's state as read after a given moment.
type streamCall struct {
	started time.Time
	done    chan struct{}
	st      streamState
	err     error
}

// stream returns the channel stream's state read after this call began.
func (h *Hub) stream(ctx context.Context) (streamState, error) {
	return h.streamAfter(ctx, time.Now())
}

// streamAfter returns the stream's state as requested at or after the
// moment after: the cached one if it is that recent, else that of the
// request in flight if it started since, else that of the next request.
// At most one request is in flight: a resume storm costs a request per
// round trip, not one per resume (JetStream answers stream info requests
// one at a time and drops them past its API queue limit).
func (h *Hub) streamAfter(ctx context.Context, after time.Time) (streamState, error) {
	for {
		h.mu.Lock()
		if s := h.state; !s.read.IsZero() && !s.read.Before(after) {
			h.mu.Unlock()
			return s, nil
		}
		call := h.call
		if call == nil {
			call = &streamCall{started: time.Now(), done: make(chan struct{})}
			h.call = call
			go h.readStream(call)
		}
		h.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return streamState{}, ctx.Err()
		}
		if !call.started.Before(after) {
			return call.st, call.err
		}
		// That request was sent before the moment asked for: wait for
		// the next one.
	}
}

// readStream runs call: one stream info request, cached for the health
// report and for the callers that follow.
func (h *Hub) readStream(call *streamCall) {
	defer close(call.done)
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.FetchTimeout)
	defer cancel()
	st, err := h.js.Stream(ctx, events.StreamChannels)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.call == call {
		h.call = nil
	}
	if err != nil {
		call.err = fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
		return
	}
	info := st.CachedInfo()
	call.st = streamState{
		epoch: events.ChannelEpoch(info.Created), first: info.State.FirstSeq, last: info.State.LastSeq,
		bytes: info.State.Bytes, maxBytes: info.Config.MaxBytes, perChannel: info.Config.MaxMsgsPerSubject,
		consumers: info.State.Consumers, read: call.started,
	}
	if call.st.read.After(h.state.read) {
		h.state = call.st
	}
}

// known is the stream state last read, without waiting for NATS.
func (h *Hub) known() streamState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

// cachedStream is the last stream state read, refreshed when older than
// maxAge.
func (h *Hub) cachedStream(ctx context.Context, maxAge time.Duration) (streamState, error) {
	return h.streamAfter(ctx, time.Now().Add(-maxAge))
}

// Epoch is the channel stream's identity as last read by the hub (by a
// resume, a channel start or StreamStats), "" if it never read it. It
// never waits for NATS.
func (h *Hub) Epoch() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state.epoch
}

// directReply is one message of a direct get's answer, read from its
// headers.
type directReply struct {
	// status: "" for a stored message, "404" none found, "204" the end
	// of a batch; anything else is the server refusing the request.
	status string
	// seq is the message's stream sequence (a stored message only).
	seq uint64
	// pending: messages of the subject after this one (batch answers).
	pending uint64
}

// parseDirect reads the headers of a direct get's answer. It never panics
// and rejects a stored message without a valid sequence.
func parseDirect(h nats.Header) (directReply, error) {
	r := directReply{status: h.Get(hdrStatus)}
	if p := h.Get(hdrNumPending); p != "" {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return directReply{}, fmt.Errorf("%w: %s %q", errBadReply, hdrNumPending, p)
		}
		r.pending = n
	}
	if r.status != "" {
		return r, nil
	}
	seq, err := strconv.ParseUint(h.Get(hdrSequence), 10, 64)
	if err != nil || seq == 0 {
		return directReply{}, fmt.Errorf("%w: %s %q", errBadReply, hdrSequence, h.Get(hdrSequence))
	}
	r.seq = seq
	return r, nil
}

// parseLive reads the sequence of a republished message and that of the
// previous message of its channel (0 when absent: the first one, or a
// publisher other than the stream). It never panics.
func parseLive(h nats.Header) (seq, prev uint64, err error) {
	seq, err = strconv.ParseUint(h.Get(hdrSequence), 10, 64)
	if err != nil || seq == 0 {
		return 0, 0, fmt.Errorf("%w: %s %q", errBadReply, hdrSequence, h.Get(hdrSequence))
	}
	if p := h.Get(hdrLastSeq); p != "" {
		if prev, err = strconv.ParseUint(p, 10, 64); err != nil || prev >= seq {
			return 0, 0, fmt.Errorf("%w: %s %q for sequence %d", errBadReply, hdrLastSeq, p, seq)
		}
	}
	return seq, prev, nil
}
