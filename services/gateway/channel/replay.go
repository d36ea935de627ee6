package channel

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// paceStep is how often a replay looks at a full subscriber's backlog.
const paceStep = 2 * time.Millisecond

// replay is one resume in progress.
type replay struct {
	t     *topic
	sub   Subscriber
	state streamState
	// pos is the last sequence delivered to sub (or known to hold none of
	// the channel's messages before it).
	pos           uint64
	count, nbytes int
	// epoch is the one the client's position belongs to ("": current).
	epoch string
	// expect is the sequence the next page must start with (the message
	// the last page held back), 0 when unknown.
	expect uint64
}

// join adds sub to the topic, replaying what since asks for.
func (t *topic) join(ctx context.Context, sub Subscriber, since *Position) (SubscribeResult, error) {
	known := t.hub.known()
	t.mu.Lock()
	switch {
	case t.stopped:
		t.mu.Unlock()
		return SubscribeResult{}, ErrClosed
	case t.hasLocked(sub):
		t.mu.Unlock()
		return SubscribeResult{}, fmt.Errorf("%w: %s", ErrSubscribed, t.name)
	case since == nil:
		defer t.mu.Unlock()
		return t.liveLocked(sub, t.epoch, known, true), nil
	}
	t.mu.Unlock()
	t.hub.resumes.Add(1)
	st, err := t.hub.cachedStream(ctx, time.Second)
	if err == nil && !st.holds(since) {
		st, err = t.hub.stream(ctx) // look again before saying no
	}
	if err != nil {
		return SubscribeResult{}, err
	}
	r := &replay{t: t, sub: sub, state: st, pos: since.Seq, epoch: since.Epoch}
	if !st.holds(since) {
		return r.unrecovered(), nil
	}
	return r.run(ctx)
}

// holds reports whether the stream may hold the gap after since: the same
// epoch, a position not from the future, the front of the gap not gone.
// A state read a moment ago may say yes wrongly (the first page reads it
// again after its snapshot); a fresh one is the answer.
func (s streamState) holds(since *Position) bool {
	return (since.Epoch == "" || since.Epoch == s.epoch) && since.Seq <= s.last && since.Seq+1 >= s.first
}

// liveLocked adds sub for the live flow only, from the later of the
// topic's position and the stream's last sequence in st (read before, of
// the topic's epoch): the subscriber is owed nothing stored before it
// joined, and a recent position stays inside retention longer. The
// caller holds t.mu.
func (t *topic) liveLocked(sub Subscriber, epoch string, st streamState, recovered bool) SubscribeResult {
	start := t.last
	if st.epoch == t.epoch && st.last > start {
		start = st.last
	}
	t.addLocked(sub, start)
	return SubscribeResult{Seq: start, Epoch: epoch, Recovered: recovered}
}

// unrecovered joins sub to the live flow with Recovered=false.
func (r *replay) unrecovered() SubscribeResult {
	r.t.hub.notRecovered.Add(1)
	r.t.syncEpoch(r.state.epoch)
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	res := r.t.liveLocked(r.sub, r.state.epoch, r.state, false)
	res.Replayed, res.ReplayedBytes = r.count, r.nbytes
	return res
}

// run streams the gap page by page, each page checked against retention
// and delivered at the subscriber's pace, until it has read to the end of
// the stream and reached the topic's position; it then joins sub to the
// live flow under the lock that orders the fan-out, so the two meet with
// no gap and no duplicate.
//
// A page that reads to the end of the stream short of the topic's
// position is read again: the messages after it may have been stored
// after the page's snapshot. But a message the live flow handed on was
// stored before it was handed on; once pages read after that have not
// held it for Config.ReplayStall, the stream no longer holds it (deleted,
// the channel purged) and no page ever will: the replay ends there with
// recovered:false instead of reading the same empty page forever.
func (r *replay) run(ctx context.Context) (SubscribeResult, error) {
	t := r.t
	caught := false
	var short shortfall
	for {
		t.mu.Lock()
		if t.stopped {
			t.mu.Unlock()
			return SubscribeResult{}, ErrClosed
		}
		last := t.last
		if caught && r.pos >= last {
			t.addLocked(r.sub, r.pos)
			t.mu.Unlock()
			r.account()
			return SubscribeResult{Seq: r.pos, Epoch: r.state.epoch, Recovered: true,
				Replayed: r.count, ReplayedBytes: r.nbytes}, nil
		}
		t.mu.Unlock()
		if caught {
			gone, err := short.check(ctx, r, last)
			if err != nil {
				r.account()
				return SubscribeResult{}, err
			}
			if gone {
				t.hub.replayStalls.Add(1)
				t.hub.log.Warn().Str("channel", t.name).Uint64("at", r.pos).Uint64("live", last).
					Msg("replay ends short of the live flow: the stream no longer holds its messages")
				r.account()
				return r.unrecovered(), nil
			}
		} else {
			short = shortfall{}
		}
		var lost bool
		var err error
		caught, lost, err = r.page(ctx)
		if err != nil {
			r.account()
			return SubscribeResult{}, err
		}
		if lost {
			r.account()
			return r.unrecovered(), nil
		}
	}
}

// shortfall follows a replay that read to the end of the stream short of
// the topic's position.
type shortfall struct {
	// target is the topic's position when the replay first fell short of
	// it (0: it has not); since is when.
	target uint64
	since  time.Time
}

// check is called after a page that read to the end of the stream short
// of last, the topic's position now. It reports gone once pages read for
// Config.ReplayStall after the topic had handed on target have not
// reached it; until then it lets the next page be read, at once the first
// time (the messages may have been stored after the page) and fillRetry
// apart after that, so that a replay that waits costs JetStream little.
func (s *shortfall) check(ctx context.Context, r *replay, last uint64) (gone bool, err error) {
	if s.target == 0 || r.pos >= s.target {
		s.target, s.since = last, time.Now()
		return false, nil
	}
	if time.Since(s.since) >= r.t.hub.cfg.ReplayStall {
		return true, nil
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(fillRetry):
	}
	if p, ok := r.sub.(Paced); ok && p.Closing() {
		return false, fmt.Errorf("%w: %s: connection closing", ErrSlow, r.t.name)
	}
	return false, nil
}

// account adds what the replay delivered to the hub's counters.
func (r *replay) account() {
	r.t.hub.replayed.Add(uint64(r.count))
	r.t.hub.replayedBytes.Add(uint64(r.nbytes))
}

// page reads and delivers the next page of the gap. caught reports that
// the page reached the end of the stream; lost that part of the gap may
// be gone from the stream.
//
// A page is one snapshot of the stream (a batch direct get does not
// interleave with writes). Between pages the front of the stream may age
// out, so each page but the last holds back its last message, whose
// sequence the next page must start with: if it does not, it was removed
// meanwhile, and with it everything before. A page with nothing held back
// before it (the first one, or after catching up) is checked against the
// stream's first sequence, read after the page.
func (r *replay) page(ctx context.Context) (caught, lost bool, err error) {
	h := r.t.hub
	from := r.pos + 1
	var p page
	var read time.Time
	err = r.retry(ctx, func() (err error) {
		p, read, err = h.sharedPage(ctx, r.t.name, from) // read: after the page's snapshot
		return err
	})
	if err != nil {
		return false, false, err
	}
	if r.count == 0 && r.state.perChannel > 0 && p.count >= uint64(r.state.perChannel) {
		return false, true, nil // the per-channel limit may have discarded some
	}
	if r.expect > 0 {
		if len(p.entries) == 0 || p.entries[0].seq != r.expect {
			return false, true, nil
		}
	} else if err = r.retry(ctx, func() (err error) {
		r.state, err = h.streamAfter(ctx, read)
		return err
	}); err != nil {
		return false, false, err
	} else if r.state.first > from || (r.epoch != "" && r.epoch != r.state.epoch) {
		return false, true, nil
	}
	es := p.entries
	r.expect = 0
	if p.more && len(es) >= 2 {
		r.expect = es[len(es)-1].seq
		es = es[:len(es)-1]
	}
	for _, e := range es {
		if err := r.pace(ctx); err != nil {
			return false, false, err
		}
		if !r.sub.Deliver(e.frame) {
			return false, false, fmt.Errorf("%w: %s: queue full after %d replayed messages", ErrSlow, r.t.name, r.count)
		}
		r.count++
		r.nbytes += len(e.frame)
		r.pos = e.seq
		h.msgsOut.Add(1)
	}
	return !p.more, false, nil
}

// pace waits until a Paced subscriber has room for the next frame: at
// most Config.ReplayWindow queued. It gives up with ErrSlow when the
// subscriber closes or reads nothing for Config.ReplayStall.
func (r *replay) pace(ctx context.Context) error {
	p, ok := r.sub.(Paced)
	if !ok {
		return nil
	}
	cfg := r.t.hub.cfg
	backlog := p.Backlog()
	if backlog < cfg.ReplayWindow {
		return nil
	}
	stall := time.Now().Add(cfg.ReplayStall)
	for backlog >= cfg.ReplayWindow/2 {
		switch {
		case p.Closing():
			return fmt.Errorf("%w: %s: connection closing", ErrSlow, r.t.name)
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(stall):
			r.t.hub.replayStalls.Add(1)
			return fmt.Errorf("%w: %s: nothing read for %v", ErrSlow, r.t.name, cfg.ReplayStall)
		}
		time.Sleep(paceStep)
		if b := p.Backlog(); b < backlog {
			stall = time.Now().Add(cfg.ReplayStall)
			backlog = b
		}
	}
	return nil
}

// retry runs read, a NATS read of the replay, until it succeeds: a read
// that NATS does not answer in time (ErrUnavailable: a page or a stream
// info request lost or late under load, a reconnect) is tried again every
// fillRetry. The replay has delivered everything before it, so a retry
// repeats nothing; without it the resume would end at a page boundary
// with an error. It gives up, returning the last error (the subscribe
// fails with ErrUnavailable and the client resumes from what it got), when
// ctx ends or NATS has not answered for Config.ReplayStall, as long as a
// replay waits for a subscriber that reads nothing; it stops at once when
// the topic stops or a Paced subscriber's connection is closing.
func (r *replay) retry(ctx context.Context, read func() error) error {
	giveUp := time.Now().Add(r.t.hub.cfg.ReplayStall)
	for {
		err := read()
		if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		if time.Now().After(giveUp) {
			r.t.hub.replayStalls.Add(1)
			return err
		}
		r.t.hub.replayRetries.Add(1)
		r.t.hub.log.Debug().Err(err).Str("channel", r.t.name).Uint64("after", r.pos).Msg("replay read retried")
		select {
		case <-ctx.Done():
			return err
		case <-time.After(fillRetry):
		}
		if r.t.isStopped() {
			return ErrClosed
		}
		if p, ok := r.sub.(Paced); ok && p.Closing() {
			return fmt.Errorf("%w: %s: connection closing", ErrSlow, r.t.name)
		}
	}
}
