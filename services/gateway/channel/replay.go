package channel

import (
	"context"
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
		return t.liveLocked(sub, t.epoch, true), nil
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

// liveLocked adds sub for the live flow only; the caller holds t.mu.
func (t *topic) liveLocked(sub Subscriber, epoch string, recovered bool) SubscribeResult {
	t.addLocked(sub, t.last)
	return SubscribeResult{Seq: t.last, Epoch: epoch, Recovered: recovered}
}

// unrecovered joins sub to the live flow with Recovered=false.
func (r *replay) unrecovered() SubscribeResult {
	r.t.hub.notRecovered.Add(1)
	r.t.syncEpoch(r.state.epoch)
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	res := r.t.liveLocked(r.sub, r.state.epoch, false)
	res.Replayed, res.ReplayedBytes = r.count, r.nbytes
	return res
}

// run streams the gap page by page, each page checked against retention
// and delivered at the subscriber's pace, until it has read to the end of
// the stream and reached the topic's position; it then joins sub to the
// live flow under the lock that orders the fan-out, so the two meet with
// no gap and no duplicate.
func (r *replay) run(ctx context.Context) (SubscribeResult, error) {
	t := r.t
	caught := false
	for {
		t.mu.Lock()
		if t.stopped {
			t.mu.Unlock()
			return SubscribeResult{}, ErrClosed
		}
		if caught && r.pos >= t.last {
			t.addLocked(r.sub, r.pos)
			t.mu.Unlock()
			r.account()
			return SubscribeResult{Seq: r.pos, Epoch: r.state.epoch, Recovered: true,
				Replayed: r.count, ReplayedBytes: r.nbytes}, nil
		}
		t.mu.Unlock()
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
	p, err := h.readPage(ctx, r.t.name, from, 0)
	if err != nil {
		return false, false, err
	}
	read := time.Now() // the page's snapshot was taken before this
	if r.count == 0 && r.state.perChannel > 0 && p.count >= uint64(r.state.perChannel) {
		return false, true, nil // the per-channel limit may have discarded some
	}
	if r.expect > 0 {
		if len(p.entries) == 0 || p.entries[0].seq != r.expect {
			return false, true, nil
		}
	} else if r.state, err = h.streamAfter(ctx, read); err != nil {
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
// subscriber closes or reads nothing for Config.StallTimeout.
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
	stall := time.Now().Add(cfg.StallTimeout)
	for backlog >= cfg.ReplayWindow/2 {
		switch {
		case p.Closing():
			return fmt.Errorf("%w: %s: connection closing", ErrSlow, r.t.name)
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(stall):
			return fmt.Errorf("%w: %s: nothing read for %v", ErrSlow, r.t.name, cfg.StallTimeout)
		}
		time.Sleep(paceStep)
		if b := p.Backlog(); b < backlog {
			stall = time.Now().Add(cfg.StallTimeout)
			backlog = b
		}
	}
	return nil
}
