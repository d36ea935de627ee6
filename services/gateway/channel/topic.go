package channel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// consumerIdle lets the server remove a channel consumer this node lost
// track of (a crash); a live one is kept alive by its pulls.
const consumerIdle = time.Minute

// member is one local subscriber of a topic.
type member struct {
	sub Subscriber
	// after: only messages with a larger stream sequence go to sub (it
	// has the rest from its replay, or asked to start past them).
	after uint64
}

// topic is one channel on this node: its ordered consumer, its history and
// its local subscribers.
type topic struct {
	hub     *Hub
	name    string
	subject string

	// Under hub.mu.
	refs int

	// Set by the creator before ready is closed.
	ready    chan struct{}
	startErr error

	// fanMu is held while a message is taken into the history and handed
	// to a snapshot of members, and by Unsubscribe while it removes one:
	// once Unsubscribe returns, no snapshot holds that subscriber. Lock
	// order: fanMu, then mu.
	fanMu sync.Mutex

	mu      sync.Mutex
	members []member // copy-on-write: replaced, never modified in place
	joined  map[Subscriber]struct{}
	hist    history
	last    uint64                   // highest stream sequence known (delivered or start point)
	lost    uint64                   // a resume with since < lost cannot be complete
	tooDeep uint64                   // a resume with since < tooDeep exceeds MaxReplay
	cons    jetstream.Consumer       // running consumer, nil once stopped
	cc      jetstream.ConsumeContext // its consume context
	fetch   *fetchCall
	waiters map[uint64]int // positions of resumes waiting for fetch
	stopped bool
}

func newTopic(h *Hub, name string) *topic {
	return &topic{
		hub: h, name: name, subject: events.ChannelSubject(name),
		ready: make(chan struct{}), joined: make(map[Subscriber]struct{}),
		waiters: make(map[uint64]int),
	}
}

// start reads the stream position and starts an ordered consumer right
// after it, so that the history covers (position, ∞).
func (t *topic) start() error {
	h := t.hub
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.FetchTimeout)
	defer cancel()
	st, err := h.js.Stream(ctx, events.StreamChannels)
	if err != nil {
		return fmt.Errorf("%w: channel %s: stream info: %v", ErrUnavailable, t.name, err)
	}
	state := st.CachedInfo().State
	t.mu.Lock()
	t.last = state.LastSeq
	t.hist.floor = state.LastSeq
	if state.FirstSeq > 0 {
		t.lost = state.FirstSeq - 1
	}
	t.mu.Unlock()
	cons, err := h.js.OrderedConsumer(ctx, events.StreamChannels, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{t.subject},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       state.LastSeq + 1,
		InactiveThreshold: consumerIdle,
	})
	if err != nil {
		return fmt.Errorf("%w: channel %s: consumer: %v", ErrUnavailable, t.name, err)
	}
	cc, err := cons.Consume(t.onMsg, jetstream.ConsumeErrHandler(t.onErr))
	if err != nil {
		return fmt.Errorf("%w: channel %s: consume: %v", ErrUnavailable, t.name, err)
	}
	t.mu.Lock()
	if t.stopped { // the hub closed meanwhile
		t.mu.Unlock()
		t.halt(cc, cons)
		return ErrClosed
	}
	t.cons, t.cc = cons, cc
	t.mu.Unlock()
	h.log.Debug().Str("channel", t.name).Uint64("start_seq", state.LastSeq+1).Msg("consumer started")
	return nil
}

// onErr logs consumer trouble; the ordered consumer resets itself.
func (t *topic) onErr(_ jetstream.ConsumeContext, err error) {
	if errors.Is(err, jetstream.ErrConnectionClosed) {
		return
	}
	t.hub.log.Debug().Err(err).Str("channel", t.name).Msg("consumer error; it resets itself")
}

// stop ends the consumer and deletes it on the server. Idempotent; a
// topic still starting halts its consumer as soon as it has one.
func (t *topic) stop() {
	t.mu.Lock()
	t.stopped = true
	cc, cons := t.cc, t.cons
	t.cc, t.cons = nil, nil
	t.mu.Unlock()
	if cc != nil {
		t.halt(cc, cons)
	}
}

// halt stops a consumer and deletes it on the server in the background.
func (t *topic) halt(cc jetstream.ConsumeContext, cons jetstream.Consumer) {
	cc.Stop()
	if info := cons.CachedInfo(); info != nil {
		go t.deleteConsumer(info.Name)
	}
}

func (t *topic) deleteConsumer(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), t.hub.cfg.FetchTimeout)
	defer cancel()
	err := t.hub.js.DeleteConsumer(ctx, events.StreamChannels, name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.hub.log.Debug().Err(err).Str("channel", t.name).Msg("consumer delete failed; the server ages it out")
	}
}

// onMsg is the consumer's handler: one message at a time, in stream order.
func (t *topic) onMsg(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		t.hub.log.Warn().Err(err).Str("channel", t.name).Msg("message without metadata dropped")
		return
	}
	t.hub.msgsIn.Add(1)
	seq := meta.Sequence.Stream
	f := t.encode(seq, msg.Data())
	t.fanMu.Lock()
	t.mu.Lock()
	if seq <= t.last {
		t.mu.Unlock()
		t.fanMu.Unlock()
		return
	}
	t.last = seq
	t.hist.push(entry{seq: seq, frame: f})
	t.hist.trim(t.historyLimit(time.Now()))
	members := t.members
	t.mu.Unlock()
	slow := t.deliver(members, seq, f)
	t.fanMu.Unlock()
	for _, s := range slow {
		t.drop(s)
	}
}

// encode builds the msg frame of a message once; a payload that is not
// JSON is carried as a JSON string.
func (t *topic) encode(seq uint64, payload []byte) []byte {
	data, quoted := messageData(payload)
	if quoted {
		t.hub.nonJSON.Add(1)
	}
	return frame.AppendMessage(make([]byte, 0, len(t.name)+len(data)+48), t.name, seq, data)
}

// deliver hands f to every member that wants seq and returns those whose
// queue was full. It allocates only when a member is slow.
func (t *topic) deliver(members []member, seq uint64, f []byte) []Subscriber {
	var slow []Subscriber
	n := 0
	for i := range members {
		m := &members[i]
		if seq <= m.after {
			continue
		}
		if m.sub.Deliver(f) {
			n++
		} else {
			slow = append(slow, m.sub)
		}
	}
	t.hub.msgsOut.Add(uint64(n))
	return slow
}

// drop removes a subscriber whose queue was full.
func (t *topic) drop(sub Subscriber) {
	if !t.remove(sub) {
		return
	}
	t.hub.dropped.Add(1)
	t.hub.log.Debug().Str("channel", t.name).Msg("slow subscriber dropped")
	t.hub.release(t)
}

// addLocked appends a member; the caller holds t.mu. Appending in place is
// copy-on-write safe: a snapshot never reads past its own length, and
// remove always builds a new array.
func (t *topic) addLocked(sub Subscriber, after uint64) {
	t.members = append(t.members, member{sub: sub, after: after})
	t.joined[sub] = struct{}{}
	t.hub.subscribers.Add(1)
}

// hasLocked reports whether sub is a member; the caller holds t.mu.
func (t *topic) hasLocked(sub Subscriber) bool {
	_, ok := t.joined[sub]
	return ok
}

// remove takes sub out of the members and reports whether it was there.
func (t *topic) remove(sub Subscriber) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hasLocked(sub) {
		return false
	}
	delete(t.joined, sub)
	t.hub.subscribers.Add(-1)
	for i := range t.members {
		if t.members[i].sub != sub {
			continue
		}
		ms := make([]member, 0, len(t.members)-1)
		ms = append(ms, t.members[:i]...)
		t.members = append(ms, t.members[i+1:]...)
		return true
	}
	return false
}

// clear removes every member.
func (t *topic) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hub.subscribers.Add(-int64(len(t.members)))
	t.members = nil
	clear(t.joined)
}
