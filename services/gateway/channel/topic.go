package channel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
)

// Pending limits of a channel's core subscription: past them the NATS
// client drops live messages (a slow consumer), which the hub then fills
// from the stream. They bound a channel's memory when the node lags.
const (
	pendingMsgs  = 8192
	pendingBytes = 8 << 20
)

// fillGiveUp is how long a gap fill retries while NATS does not answer
// before the channel's subscribers are asked to start over.
const fillGiveUp = time.Minute

// member is one local subscriber of a topic.
type member struct {
	sub   Subscriber
	batch Batcher // sub, if it takes runs of frames; else nil
	// after: only messages with a larger stream sequence go to sub (it
	// has the rest from its replay, or asked to start past them).
	after uint64
}

// topic is one channel on this node: its core subscription to the live
// subject and its local subscribers.
type topic struct {
	hub  *Hub
	name string
	live string

	// Under hub.mu.
	refs int

	// Set by the creator before ready is closed.
	ready    chan struct{}
	startErr error
	// primed is closed once last is known: live messages wait for it.
	primed chan struct{}

	// flowMu orders the producers of the flow: the live callback and a
	// catch-up after a reconnect. It is held while a gap is filled.
	flowMu sync.Mutex
	// lastLive is the highest sequence received on the live subject;
	// under flowMu.
	lastLive uint64
	// run is the messages received but not yet fanned out; under flowMu.
	run run

	// fanMu is held while a message is handed to a snapshot of members,
	// and by every removal of a member: once Unsubscribe returns, no
	// fan-out holds that subscriber. Lock order: flowMu, fanMu, mu.
	fanMu sync.Mutex

	mu sync.Mutex
	// members is read by a fan-out under fanMu from a snapshot of the
	// slice header; joins append past the snapshot's length under mu only,
	// removals (under fanMu and mu) swap the last member into the hole.
	members []member
	joined  map[Subscriber]int // index in members
	last    uint64             // highest stream sequence handed to members (or start point)
	epoch   string             // the stream epoch last belongs to
	sub     *nats.Subscription
	stopped bool
}

func newTopic(h *Hub, name string) *topic {
	return &topic{
		hub: h, name: name, live: events.LiveSubject(name),
		ready: make(chan struct{}), primed: make(chan struct{}),
		joined: make(map[Subscriber]int),
	}
}

// start subscribes to the live subject, then reads the channel's last
// sequence: a message republished before that read is recognised by its
// sequence (at or below last: dropped), one after it follows on.
func (t *topic) start(ctx context.Context) error {
	defer close(t.primed)
	h := t.hub
	sub, err := h.nc.Subscribe(t.live, t.onLive)
	if err != nil {
		t.halt()
		return fmt.Errorf("%w: channel %s: subscribe: %v", ErrUnavailable, t.name, err)
	}
	_ = sub.SetPendingLimits(pendingMsgs, pendingBytes)
	t.mu.Lock()
	t.sub = sub
	t.mu.Unlock()
	st, err := h.cachedStream(ctx, time.Second)
	if err != nil {
		t.halt()
		return err
	}
	last, err := h.lastSeq(ctx, t.name)
	if err != nil {
		t.halt()
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped { // the hub closed meanwhile
		return ErrClosed
	}
	t.last, t.epoch = last, st.epoch
	return nil
}

// halt marks the topic stopped and drops its subscription.
func (t *topic) halt() {
	t.mu.Lock()
	t.stopped = true
	sub := t.sub
	t.sub = nil
	t.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
}

// stop ends the topic. Idempotent.
func (t *topic) stop() { t.halt() }

// isStopped reports whether the topic was stopped.
func (t *topic) isStopped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopped
}

// onLive is the live subject's handler: one message at a time, in the
// order the stream republished them. While more messages wait on the
// subscription, a message joins the run and the run goes out with the
// last of them (see run).
func (t *topic) onLive(msg *nats.Msg) {
	<-t.primed
	t.flowMu.Lock()
	defer t.flowMu.Unlock()
	t.take(msg)
	if !t.run.full() && morePending(msg.Sub) {
		return
	}
	t.fanRun()
}

// take adds a live message to the run, filling the gap before it first
// if there is one. The caller holds flowMu.
func (t *topic) take(msg *nats.Msg) {
	seq, prev, err := parseLive(msg.Header)
	if err != nil {
		// Not from the stream (someone published on the live subject):
		// the live flow carries only what the stream stored.
		t.hub.log.Warn().Err(err).Str("channel", t.name).Msg("live message dropped")
		return
	}
	t.hub.msgsIn.Add(1)
	last := t.flowLast()
	// The stream republishes in order: a live message at or below the
	// last one received live is not a fill's duplicate but a recreated
	// stream, whose sequences start again.
	if seq <= t.lastLive && !t.sameEpoch() {
		last = t.newEpoch()
	}
	t.lastLive = max(t.lastLive, seq)
	if seq <= last {
		return // already delivered (by a gap fill)
	}
	if prev > last {
		t.hub.gaps.Add(1)
		if !t.fill(last+1, seq-1) {
			return
		}
	}
	t.run.add(seq, t.hub.encode(t.name, seq, msg.Data))
}

// catchUp reads the channel's last sequence and fills everything after
// the topic's position: after a reconnect, or after the NATS client
// dropped live messages.
func (t *topic) catchUp() {
	t.flowMu.Lock()
	defer t.flowMu.Unlock()
	if t.isStopped() {
		return
	}
	t.fanRun()
	ctx, cancel := context.WithTimeout(context.Background(), t.hub.cfg.FetchTimeout)
	head, err := t.hub.lastSeq(ctx, t.name)
	cancel()
	t.mu.Lock()
	last := t.last
	t.mu.Unlock()
	if err != nil || head <= last {
		return
	}
	t.hub.gaps.Add(1)
	t.fill(last+1, head)
}

// fill delivers the messages of the channel in [from, to] from the
// stream, page by page, retrying while NATS does not answer. The caller
// holds flowMu. False: the topic stopped, or NATS stayed away past
// fillGiveUp and the subscribers were asked to start over.
func (t *topic) fill(from, to uint64) bool {
	t.fanRun()
	giveUp := time.Now().Add(fillGiveUp)
	for from <= to {
		if t.isStopped() {
			return false
		}
		p, err := t.hub.readPage(context.Background(), t.name, from, to)
		if err != nil {
			if time.Now().After(giveUp) || !errors.Is(err, ErrUnavailable) {
				t.hub.log.Warn().Err(err).Str("channel", t.name).Msg("gap not filled; subscribers start over")
				t.restartAll("gap not filled")
				return false
			}
			time.Sleep(fillRetry)
			continue
		}
		for _, e := range p.entries {
			t.run.add(e.seq, e.frame)
		}
		t.fanRun()
		t.hub.filled.Add(uint64(len(p.entries)))
		if len(p.entries) == 0 || !p.more {
			break
		}
		from = p.entries[len(p.entries)-1].seq + 1
	}
	return true
}
