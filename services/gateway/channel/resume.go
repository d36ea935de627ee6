package channel

import (
	"context"
	"fmt"
	"time"
)

// resumeAttempts bounds how many JetStream replays one resume runs: one
// may be for a deeper position that waiters asked for, one may be outrun
// by live traffic.
const resumeAttempts = 4

// fetchCall is the one JetStream replay of a topic in flight. Resumes that
// need one meanwhile register their position in topic.waiters until they
// are answered, wait for it and then look at memory again; the next
// replay starts at the deepest registered position, so a storm of resumes
// at different positions costs about two replays, not one each.
type fetchCall struct {
	done chan struct{}
}

// join adds sub to the topic, replaying what since asks for.
func (t *topic) join(ctx context.Context, sub Subscriber, since *uint64) (SubscribeResult, error) {
	fetches := 0
	registered := false
	defer func() {
		if registered {
			t.unregister(*since)
		}
	}()
	for {
		t.mu.Lock()
		if res, ok, err := t.answerLocked(sub, since); ok {
			t.mu.Unlock()
			return res, err
		}
		if call := t.fetch; call != nil {
			if !registered {
				t.waiters[*since]++
				registered = true
			}
			t.mu.Unlock()
			select {
			case <-call.done:
				continue
			case <-ctx.Done():
				return SubscribeResult{}, ctx.Err()
			}
		}
		if fetches >= resumeAttempts {
			t.mu.Unlock()
			return SubscribeResult{}, fmt.Errorf("%w: %s: replay outrun by live traffic", ErrUnavailable, t.name)
		}
		fetches++
		res, done, err := t.fetchAndJoin(ctx, sub, *since, t.replayFromLocked(*since))
		if done || err != nil {
			return res, err
		}
	}
}

// answerLocked answers a subscribe that needs no JetStream replay; ok is
// false when one is needed. The caller holds t.mu.
func (t *topic) answerLocked(sub Subscriber, since *uint64) (res SubscribeResult, ok bool, err error) {
	switch {
	case t.stopped:
		return res, true, ErrClosed
	case t.hasLocked(sub):
		return res, true, fmt.Errorf("%w: %s", ErrSubscribed, t.name)
	case since == nil:
		return t.liveLocked(sub, true), true, nil
	case *since >= t.hist.floor:
		res, err = t.replayLocked(sub, *since)
		return res, true, err
	case *since < t.lost || *since < t.tooDeep:
		return t.liveLocked(sub, false), true, nil
	}
	return res, false, nil
}

// unregister removes a resume that waited for a replay from t.waiters.
func (t *topic) unregister(since uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.waiters[since]--; t.waiters[since] <= 0 {
		delete(t.waiters, since)
	}
}

// replayFromLocked is where the next replay starts: the deepest position
// among since and the resumes waiting, unless known to be unrecoverable.
// The caller holds t.mu.
func (t *topic) replayFromLocked(since uint64) uint64 {
	from := since
	for s := range t.waiters {
		if s < from && s >= t.lost && s >= t.tooDeep {
			from = s
		}
	}
	return from
}

// liveLocked adds sub for the live flow only; the caller holds t.mu.
func (t *topic) liveLocked(sub Subscriber, recovered bool) SubscribeResult {
	t.addLocked(sub, t.last)
	return SubscribeResult{Seq: t.last, Recovered: recovered}
}

// replayLocked delivers the held messages after since, then adds sub; the
// caller holds t.mu and since >= t.hist.floor.
func (t *topic) replayLocked(sub Subscriber, since uint64) (SubscribeResult, error) {
	es := t.hist.after(since)
	if len(es) > t.hub.cfg.MaxReplay {
		return t.liveLocked(sub, false), nil
	}
	for _, e := range es {
		if !sub.Deliver(e.frame) {
			return SubscribeResult{}, fmt.Errorf("%w: %s: %d messages to replay", ErrSlow, t.name, len(es))
		}
	}
	t.hub.msgsOut.Add(uint64(len(es)))
	pos := max(t.last, since)
	t.addLocked(sub, pos)
	return SubscribeResult{Seq: pos, Recovered: true, Replayed: len(es)}, nil
}

// fetchAndJoin runs the topic's JetStream replay from `from` (<= since)
// up to the history; the caller holds t.mu, which fetchAndJoin releases.
// done reports that sub was answered (joined or failed); otherwise the
// caller looks again.
func (t *topic) fetchAndJoin(ctx context.Context, sub Subscriber, since, from uint64) (res SubscribeResult, done bool, err error) {
	call := &fetchCall{done: make(chan struct{})}
	t.fetch = call
	upTo := t.hist.floor
	t.mu.Unlock()

	r, err := t.hub.fetchRange(ctx, t.subject, from, upTo)

	t.mu.Lock()
	defer t.mu.Unlock()
	t.fetch = nil
	close(call.done)
	switch {
	case err != nil:
		return SubscribeResult{}, true, err
	case r.lostBelow > 0:
		t.lost = max(t.lost, r.lostBelow)
		return t.unrecoveredLocked(sub, since)
	case r.tooMany:
		// More than MaxReplay after from: after any position <= from too.
		t.tooDeep = max(t.tooDeep, from+1)
		return t.unrecoveredLocked(sub, since)
	case t.hist.floor != upTo || t.stopped:
		// Live traffic outran the history bound meanwhile: look again.
		return SubscribeResult{}, false, nil
	}
	t.hist.prepend(from, r.entries, time.Now())
	res, err = t.replayLocked(sub, since)
	return res, true, err
}

// unrecoveredLocked answers Recovered=false if since is past saving, or
// asks the caller to look again (the replay was for a deeper position).
func (t *topic) unrecoveredLocked(sub Subscriber, since uint64) (SubscribeResult, bool, error) {
	if since < t.lost || since < t.tooDeep {
		return t.liveLocked(sub, false), true, nil
	}
	return SubscribeResult{}, false, nil
}
