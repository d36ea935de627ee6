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

// consumerHeartbeat is the idle heartbeat of a channel's consumer: a lost
// NATS server is noticed after two missed beats and the ordered consumer
// resets on another (the library's default, 5 s, stalls delivery ~10 s).
const consumerHeartbeat = time.Second

// consumerExpiry bounds each pull request; at least twice the heartbeat.
const consumerExpiry = 10 * time.Second

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
	// to a snapshot of members, and by every removal of a member: once
	// Unsubscribe returns, no fan-out holds that subscriber, and removal
	// can edit members in place. Lock order: fanMu, then mu.
	fanMu sync.Mutex

	mu sync.Mutex
	// members is read by a fan-out under fanMu from a snapshot of the
	// slice header; joins append past the snapshot's length under mu only,
	// removals (under fanMu and mu) swap the last member into the hole.
	members []member
	joined  map[Subscriber]int // index in members
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
		ready: make(chan struct{}), joined: make(map[Subscriber]int),
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
	cc, err := cons.Consume(t.onMsg, jetstream.ConsumeErrHandler(t.onErr),
		jetstream.PullHeartbeat(consumerHeartbeat), jetstream.PullExpiry(consumerExpiry))
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

// addLocked appends a member; the caller holds t.mu. A fan-out's snapshot
// never reads past its own length, so appending needs no fanMu.
func (t *topic) addLocked(sub Subscriber, after uint64) {
	t.joined[sub] = len(t.members)
	t.members = append(t.members, member{sub: sub, after: after})
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
