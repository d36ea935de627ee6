package channel

import (
	"context"
	"fmt"
	"time"
)

// resumeAttempts bounds how often one resume retries a JetStream replay
// whose result could not join the history (it was outrun by live traffic).
const resumeAttempts = 3

// fetchCall is the one JetStream replay of a topic in flight; resumes
// that need one meanwhile wait for it and then look at memory again.
type fetchCall struct {
	done chan struct{}
}

// join adds sub to the topic, replaying what since asks for.
func (t *topic) join(ctx context.Context, sub Subscriber, since *uint64) (SubscribeResult, error) {
	fetches := 0
	for {
		t.mu.Lock()
		if t.stopped {
			t.mu.Unlock()
			return SubscribeResult{}, ErrClosed
		}
		if t.hasLocked(sub) {
			t.mu.Unlock()
			return SubscribeResult{}, fmt.Errorf("%w: %s", ErrSubscribed, t.name)
		}
		switch {
		case since == nil:
			defer t.mu.Unlock()
			return t.liveLocked(sub, true), nil
		case *since >= t.hist.floor:
			defer t.mu.Unlock()
			return t.replayLocked(sub, *since)
		case *since < t.lost:
			defer t.mu.Unlock()
			return t.liveLocked(sub, false), nil
		}
		if call := t.fetch; call != nil {
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
		res, done, err := t.fetchAndJoin(ctx, sub, *since)
		if done || err != nil {
			return res, err
		}
	}
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

// fetchAndJoin runs the topic's JetStream replay for since; the caller
// holds t.mu, which fetchAndJoin releases. done reports that sub was
// answered (joined or failed); otherwise the caller looks again.
func (t *topic) fetchAndJoin(ctx context.Context, sub Subscriber, since uint64) (res SubscribeResult, done bool, err error) {
	call := &fetchCall{done: make(chan struct{})}
	t.fetch = call
	upTo := t.hist.floor
	t.mu.Unlock()

	r, err := t.hub.fetchRange(ctx, t.subject, since, upTo)

	t.mu.Lock()
	defer t.mu.Unlock()
	t.fetch = nil
	close(call.done)
	switch {
	case err != nil:
		return SubscribeResult{}, true, err
	case r.lostBelow > 0:
		t.lost = max(t.lost, r.lostBelow)
		return t.liveLocked(sub, false), true, nil
	case r.tooMany:
		return t.liveLocked(sub, false), true, nil
	case t.hist.floor != upTo || t.stopped:
		// Live traffic outran the history bound meanwhile: look again.
		return SubscribeResult{}, false, nil
	}
	t.hist.prepend(since, r.entries, time.Now())
	res, err = t.replayLocked(sub, since)
	return res, true, err
}
