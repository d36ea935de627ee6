package channel

import (
	"context"
	"time"
)

// addLocked appends a member; the caller holds t.mu. A fan-out's snapshot
// never reads past its own length, so appending needs no fanMu.
func (t *topic) addLocked(sub Subscriber, after uint64) {
	t.joined[sub] = len(t.members)
	b, _ := sub.(Batcher)
	t.members = append(t.members, member{sub: sub, batch: b, after: after})
	t.hub.subscribers.Add(1)
}

// hasLocked reports whether sub is a member; the caller holds t.mu.
func (t *topic) hasLocked(sub Subscriber) bool {
	_, ok := t.joined[sub]
	return ok
}

// remove takes sub out of the members in O(1) and reports whether it was
// there. The caller holds fanMu: no fan-out is reading members.
func (t *topic) remove(sub Subscriber) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.removeLocked(sub)
}

func (t *topic) removeLocked(sub Subscriber) bool {
	i, ok := t.joined[sub]
	if !ok {
		return false
	}
	delete(t.joined, sub)
	last := len(t.members) - 1
	if i != last {
		t.members[i] = t.members[last]
		t.joined[t.members[i].sub] = i
	}
	t.members[last] = member{}
	t.members = t.members[:last]
	t.hub.subscribers.Add(-1)
	return true
}

// clear removes every member.
func (t *topic) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hub.subscribers.Add(-int64(len(t.members)))
	t.members = nil
	clear(t.joined)
}

// sameEpoch reports whether the stream is still the one the topic's
// position belongs to, reading its state. NATS trouble answers true: the
// next out-of-order message asks again.
func (t *topic) sameEpoch() bool {
	ctx, cancel := context.WithTimeout(context.Background(), t.hub.cfg.FetchTimeout)
	defer cancel()
	st, err := t.hub.stream(ctx)
	if err != nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return st.epoch == t.epoch
}

// newEpoch moves the topic to the stream's new epoch, from its start:
// subscribers that can start over (Restarter) are asked to and leave (their
// client resumes and learns recovered:false), others follow from 0. It
// returns the new position, 0. The caller holds flowMu.
func (t *topic) newEpoch() uint64 {
	t.fanRun()
	ctx, cancel := context.WithTimeout(context.Background(), t.hub.cfg.FetchTimeout)
	st, err := t.hub.cachedStream(ctx, time.Second)
	cancel()
	t.hub.log.Info().Str("channel", t.name).Str("epoch", st.epoch).Msg("channel stream recreated; subscribers start over")
	t.restartAll("channel stream recreated")
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.epoch = st.epoch
	}
	t.last, t.lastLive = 0, 0
	for i := range t.members {
		t.members[i].after = 0
	}
	return 0
}

// syncEpoch moves the topic to epoch if it still follows another one: a
// resume read the stream after it was recreated, before any live message
// told the topic. Without it the new member would wait for sequences
// above the old stream's.
func (t *topic) syncEpoch(epoch string) {
	t.mu.Lock()
	same := epoch == "" || t.epoch == epoch
	t.mu.Unlock()
	if same {
		return
	}
	t.flowMu.Lock()
	defer t.flowMu.Unlock()
	t.mu.Lock()
	same = t.epoch == epoch
	t.mu.Unlock()
	if !same {
		t.newEpoch()
	}
}

// restartAll asks every member that can start over to do so and removes
// it. The caller holds flowMu.
func (t *topic) restartAll(reason string) {
	t.fanMu.Lock()
	t.mu.Lock()
	var gone []Restarter
	for _, m := range append([]member(nil), t.members...) {
		if r, ok := m.sub.(Restarter); ok && t.removeLocked(m.sub) {
			gone = append(gone, r)
		}
	}
	t.mu.Unlock()
	t.fanMu.Unlock()
	for _, r := range gone {
		r.Restart(reason)
		t.hub.restarted.Add(1)
		t.hub.release(t)
	}
}
