package channel

import "github.com/nats-io/nats.go"

// Bounds of a run: past either, it goes out before the next message joins.
const (
	runMsgs  = 128
	runBytes = 128 << 10
)

// run holds the live messages a topic has taken but not yet fanned out,
// in stream order. A message received while more wait on the channel's
// subscription joins the run, and the run goes out with the last of them
// (or once it reaches runMsgs or runBytes): under load each subscriber
// gets the messages that arrived together in one call, and its
// connection writes them in one system call, instead of one call and
// often one write per message. Nothing waits on a run but the messages
// already queued behind it, so it adds no delay of its own. Until it goes
// out a run is not part of the topic's position (topic.last): a replay
// that reaches the position joins and gets the run's messages above its
// own position from the fan-out, like any later message.
type run struct {
	seqs   []uint64
	frames [][]byte
	bytes  int
}

func (r *run) add(seq uint64, f []byte) {
	r.seqs = append(r.seqs, seq)
	r.frames = append(r.frames, f)
	r.bytes += len(f)
}

func (r *run) full() bool { return len(r.seqs) >= runMsgs || r.bytes >= runBytes }

// reset empties the run, keeping its arrays (the frames stay with the
// subscribers that took them).
func (r *run) reset() {
	clear(r.frames)
	r.seqs, r.frames, r.bytes = r.seqs[:0], r.frames[:0], 0
}

// morePending reports whether another message waits on sub behind the
// one being handled. The NATS client counts the message whose callback
// runs as pending until the callback returns; an error (the subscription
// closed) answers false.
func morePending(sub *nats.Subscription) bool {
	if sub == nil {
		return false
	}
	n, _, err := sub.Pending()
	return err == nil && n > 1
}

// flowLast is the last sequence of the flow: the run's last message, or
// the topic's position. The caller holds flowMu.
func (t *topic) flowLast() uint64 {
	if n := len(t.run.seqs); n > 0 {
		return t.run.seqs[n-1]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// fanRun hands the run to the members and empties it. The caller holds
// flowMu.
func (t *topic) fanRun() {
	if len(t.run.seqs) == 0 {
		return
	}
	t.fan(t.run.seqs, t.run.frames)
	t.run.reset()
}

// fan hands the messages seqs (ascending) with their frames to every
// member, each the part above its position.
func (t *topic) fan(seqs []uint64, frames [][]byte) {
	t.fanMu.Lock()
	t.mu.Lock()
	i := 0
	for i < len(seqs) && seqs[i] <= t.last {
		i++
	}
	if i == len(seqs) || t.stopped {
		t.mu.Unlock()
		t.fanMu.Unlock()
		return
	}
	seqs, frames = seqs[i:], frames[i:]
	t.last = seqs[len(seqs)-1]
	members := t.members
	t.mu.Unlock()
	slow := t.deliver(members, seqs, frames)
	dropped := 0
	for _, s := range slow {
		if t.remove(s) {
			dropped++
		}
	}
	t.fanMu.Unlock()
	for range dropped {
		t.hub.dropped.Add(1)
		t.hub.log.Debug().Str("channel", t.name).Msg("slow subscriber dropped")
		t.hub.release(t)
	}
}

// deliver hands every member the frames of seqs above its position and
// returns those whose queue was full. It allocates only when a member is
// slow.
func (t *topic) deliver(members []member, seqs []uint64, frames [][]byte) []Subscriber {
	var slow []Subscriber
	n := 0
	for i := range members {
		m := &members[i]
		j := 0
		for j < len(seqs) && seqs[j] <= m.after {
			j++
		}
		fs := frames[j:]
		if len(fs) == 0 {
			continue
		}
		k, ok := deliverTo(m, fs)
		n += k
		if !ok {
			slow = append(slow, m.sub)
		}
	}
	t.hub.msgsOut.Add(uint64(n))
	return slow
}

// deliverTo hands frames to m in one call if it takes runs, else one by
// one until it refuses one; it returns how many it took and false if it
// refused one.
func deliverTo(m *member, frames [][]byte) (int, bool) {
	if m.batch != nil {
		if m.batch.DeliverRun(frames) {
			return len(frames), true
		}
		return 0, false
	}
	for i, f := range frames {
		if !m.sub.Deliver(f) {
			return i, false
		}
	}
	return len(frames), true
}
