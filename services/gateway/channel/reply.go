package channel

import (
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

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
