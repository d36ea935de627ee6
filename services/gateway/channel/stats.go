package channel

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
)

// counters are the hub's running totals.
type counters struct {
	subscribers     atomic.Int64
	msgsIn          atomic.Uint64
	msgsOut         atomic.Uint64
	dropped         atomic.Uint64
	nonJSON         atomic.Uint64
	pageReads       atomic.Uint64
	pageShares      atomic.Uint64
	gaps            atomic.Uint64
	filled          atomic.Uint64
	subscribes      atomic.Uint64
	resumes         atomic.Uint64
	notRecovered    atomic.Uint64
	replayed        atomic.Uint64
	replayedBytes   atomic.Uint64
	publishes       atomic.Uint64
	restarted       atomic.Uint64
	subscribeErrors atomic.Uint64
	publishErrors   atomic.Uint64
	marked          atomic.Uint64
	replayRetries   atomic.Uint64
	replayStalls    atomic.Uint64
}

// Stats are the hub's counters (totals since start) and gauges.
type Stats struct {
	// Channels with a live subscription on this node, Subscribers across
	// them.
	Channels, Subscribers int
	// MsgsIn: live messages received from NATS; MsgsOut: frames handed to
	// subscribers (live and replayed); Dropped: subscribers dropped
	// because Deliver returned false.
	MsgsIn, MsgsOut, Dropped uint64
	// NonJSON: messages whose payload was not JSON and was delivered as
	// a JSON string.
	NonJSON uint64
	// PageReads: batch direct gets (replays and gap fills). Gaps: holes
	// in the live flow detected from Nats-Last-Sequence or after a
	// reconnect; Filled: messages read from the stream to fill them.
	PageReads, Gaps, Filled uint64
	// PageShares: replays that took their page from another replay's
	// read of the same channel and position (see sharedPage).
	PageShares uint64
	// Subscribes answered; Resumes among them (with since); NotRecovered:
	// resumes answered recovered:false; Replayed and ReplayedBytes: what
	// resumes delivered.
	Subscribes, Resumes, NotRecovered, Replayed, ReplayedBytes uint64
	// Publishes stored (duplicates included).
	Publishes uint64
	// SubscribeErrors and PublishErrors: failures that were the node's
	// (NATS or JetStream unavailable), not the client's.
	SubscribeErrors, PublishErrors uint64
	// Restarted: subscribers asked to start over after the stream was
	// recreated under them.
	Restarted uint64
	// Marked: pos frames sent (a quiet channel's subscriber moved to a
	// later stream position).
	Marked uint64
	// ReplayRetries: reads of a replay (a page, the stream's state) that
	// NATS did not answer in time and that the replay tried again.
	ReplayRetries uint64
	// ReplayStalls: replays that made no progress for ReplayStall and
	// ended for it: the client read nothing (ErrSlow), NATS did not
	// answer (ErrUnavailable), or the stream no longer held what the live
	// flow had handed on (recovered:false).
	ReplayStalls uint64
}

// Stats returns the current counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n := len(h.channels)
	h.mu.Unlock()
	return Stats{
		Channels:      n,
		Subscribers:   int(h.subscribers.Load()),
		MsgsIn:        h.msgsIn.Load(),
		MsgsOut:       h.msgsOut.Load(),
		Dropped:       h.dropped.Load(),
		NonJSON:       h.nonJSON.Load(),
		PageReads:     h.pageReads.Load(),
		PageShares:    h.pageShares.Load(),
		Gaps:          h.gaps.Load(),
		Filled:        h.filled.Load(),
		Subscribes:    h.subscribes.Load(),
		Resumes:       h.resumes.Load(),
		NotRecovered:  h.notRecovered.Load(),
		Replayed:      h.replayed.Load(),
		ReplayedBytes: h.replayedBytes.Load(),
		Publishes:     h.publishes.Load(),
		Restarted:     h.restarted.Load(),
		Marked:        h.marked.Load(),
		ReplayRetries: h.replayRetries.Load(),
		ReplayStalls:  h.replayStalls.Load(),

		SubscribeErrors: h.subscribeErrors.Load(),
		PublishErrors:   h.publishErrors.Load(),
	}
}

// StreamStats is the channel stream as the hub last read it.
type StreamStats struct {
	Epoch string
	// Bytes held, and the configured byte limit (0: none).
	Bytes    uint64
	MaxBytes int64
	// Consumers on the channel stream (the live path creates none).
	Consumers int
	// FirstSeq and LastSeq of the stream.
	FirstSeq, LastSeq uint64
}

// StreamStats reads the channel stream's state (one request; the health
// report calls it once per interval).
func (h *Hub) StreamStats(ctx context.Context) (StreamStats, error) {
	s, err := h.stream(ctx)
	if err != nil {
		return StreamStats{}, err
	}
	return StreamStats{Epoch: s.epoch, Bytes: s.bytes, MaxBytes: s.maxBytes, Consumers: s.consumers,
		FirstSeq: s.first, LastSeq: s.last}, nil
}

// resyncWorkers bounds the direct gets of a resync after a reconnect.
const resyncWorkers = 8

// resync looks at every channel's last sequence after a NATS reconnect
// and fills what the disconnect missed: the live flow has no way to learn
// of messages republished while this node was away until the next one.
func (h *Hub) resync() {
	h.mu.Lock()
	topics := make([]*topic, 0, len(h.channels))
	for _, t := range h.channels {
		topics = append(topics, t)
	}
	h.mu.Unlock()
	work := make(chan *topic)
	var wg sync.WaitGroup
	for range min(resyncWorkers, len(topics)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				t.catchUp()
			}
		}()
	}
	for _, t := range topics {
		work <- t
	}
	close(work)
	wg.Wait()
	h.log.Debug().Int("channels", len(topics)).Msg("channels resynced after reconnect")
}

// resyncSubject catches up the channel of a live subject whose messages
// the NATS client dropped (slow consumer).
func (h *Hub) resyncSubject(subject string) {
	name, ok := events.LiveChannel(subject)
	if !ok {
		return
	}
	h.mu.Lock()
	t := h.channels[name]
	h.mu.Unlock()
	if t != nil {
		t.catchUp()
	}
}

// fillRetry is the pause between attempts to fill a gap while NATS does
// not answer.
const fillRetry = 250 * time.Millisecond
