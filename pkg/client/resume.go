package client

import (
	"bytes"
	"fmt"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// Bounds of the messages a subscription holds while its resume waits for
// the server's answer. Past them later messages are not kept and the
// connection is closed: the next one resumes from the position, which
// never moved past a message that was not kept.
const (
	maxHeld      = 4096
	maxHeldBytes = 16 << 20
)

// A resume's messages before its reply are the gap's replay (above the
// position, in order) or live messages the server sent after joining the
// subscription to the live flow. Against a recreated stream (a new epoch)
// the live ones start again from low sequences: at or below the old
// position they cannot be told from duplicates until the reply says which
// epoch they belong to. The subscription therefore holds a message at or
// below its position while a resume is pending, and every message after
// it (to keep the order), and settles them at the reply: duplicates of
// the same epoch are dropped, a new epoch's messages above reply.seq are
// delivered after the Gap.

// startResume records r as the resume awaiting its reply and forgets what
// an earlier one held (the new request replays it); c.mu is held.
func (s *Subscription) startResume(r *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resume, s.held, s.heldBytes, s.heldOver = r, nil, 0, false
}

// endResume forgets resume r if it is the pending one: the server
// refused it, so nothing it held was joined to a live flow.
func (s *Subscription) endResume(r *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume == r {
		s.resume, s.held, s.heldBytes, s.heldOver = nil, nil, 0, false
	}
}

// accept decides about message seq: deliver (it is above the position,
// which moves to it), hold (a resume is pending and it may belong to
// another epoch) or drop (a duplicate). overflow: the held messages went
// past their bounds.
func (s *Subscription) accept(seq uint64, data []byte) (deliver, overflow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	below := s.hasLast.Load() && seq <= s.last.Load()
	if s.resume != nil && s.heldOver {
		return false, false // the session is closing; the next one resumes
	}
	if s.resume != nil && (below || s.held != nil) {
		if len(s.held) >= maxHeld || s.heldBytes+len(data) > maxHeldBytes {
			s.heldOver = true
			return false, true
		}
		s.held = append(s.held, Message{Channel: s.channel, Seq: seq, Data: bytes.Clone(data)})
		s.heldBytes += len(data)
		return false, false
	}
	if below {
		s.dups.Add(1)
		return false, false
	}
	s.last.Store(seq)
	s.hasLast.Store(true)
	return true, false
}

// advance moves the position to seq (a pos frame) unless a resume awaits
// its reply: then the position is the one the resume asked from, and the
// frame, which may belong to the flow the resume joins or to another
// epoch, is dropped (the position stays where it was, which is never
// wrong; the next pos frame moves it).
func (s *Subscription) advance(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resume != nil || s.hasLast.Load() && seq <= s.last.Load() {
		return
	}
	s.last.Store(seq)
	s.hasLast.Store(true)
}

// settle applies the reply f to the subscription's position and returns
// the gap to report (if any) and the held messages to deliver after it,
// in order, each above the position, which moves to the last of them.
func (s *Subscription) settle(r *request, f frame.Server) (*Gap, []Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var held []Message
	if s.resume == r {
		held = s.held
		s.held, s.heldBytes = nil, 0
		if !s.heldOver { // else keep dropping what follows until the socket ends
			s.resume = nil
		}
	}
	if r.since == nil && (!s.hasLast.Load() || f.Seq > s.last.Load()) {
		// Live subscription: resume later from the stream position now.
		s.last.Store(f.Seq)
		s.hasLast.Store(true)
	}
	if f.Epoch != "" {
		e := f.Epoch
		s.epoch.Store(&e)
	}
	var gap *Gap
	if r.since != nil && f.Recovered != nil && !*f.Recovered {
		// The live flow follows from the reply's seq. Against another
		// epoch (or from a position above that stream's end) the old
		// position means nothing: start again from there.
		reset := f.Epoch != "" && f.Epoch != r.epoch && (r.epoch != "" || f.Seq < *r.since)
		if reset || f.Seq > s.last.Load() {
			s.last.Store(f.Seq)
		}
		s.gaps.Add(1)
		s.c.log.Warn().Str("channel", s.channel).Uint64("since", *r.since).Bool("new_epoch", reset).
			Msg("resumed with a gap: recovered false")
		gap = &Gap{Channel: s.channel, After: *r.since}
	}
	out := held[:0]
	for _, m := range held {
		if s.hasLast.Load() && m.Seq <= s.last.Load() {
			s.dups.Add(1)
			continue
		}
		s.last.Store(m.Seq)
		s.hasLast.Store(true)
		out = append(out, m)
	}
	return gap, out
}

// overflowed ends the session whose resume of sub held too many
// messages: the socket is closed at once (closing the net.Conn stops the
// reader), and the next connection resumes from the position again.
func (s *session) overflowed(sub *Subscription) {
	err := fmt.Errorf("%w: over %d messages or %d bytes before the answer to resuming %q",
		ErrServer, maxHeld, maxHeldBytes, sub.channel)
	s.c.log.Warn().Err(err).Msg("closing the connection")
	s.mu.Lock()
	if s.cause == nil {
		s.cause = err
	}
	s.mu.Unlock()
	if s.conn != nil {
		_ = s.conn.NetConn().Close()
	}
}
