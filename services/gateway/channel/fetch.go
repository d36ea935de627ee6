package channel

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// fetchBatch is how many messages one pull of a replay asks for.
const fetchBatch = 256

// errGap: a replay consumer skipped a delivery (a reset on the way).
var errGap = errors.New("channel: replay delivery gap")

// fetchResult is a JetStream replay of the messages of a channel in
// (since, upTo].
type fetchResult struct {
	entries []entry
	// lostBelow > 0: part of the gap is gone from the stream; a resume
	// with since < lostBelow cannot be complete.
	lostBelow uint64
	// tooMany: the gap holds more than MaxReplay messages.
	tooMany bool
}

// fetchRange reads the messages of subject with a stream sequence in
// (since, upTo] from JetStream, then checks that none of that range was
// removed from the stream (see the package doc for the rule).
func (h *Hub) fetchRange(ctx context.Context, subject string, since, upTo uint64) (fetchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.FetchTimeout)
	defer cancel()
	h.fetches.Add(1)
	st, err := h.js.Stream(ctx, events.StreamChannels)
	if err != nil {
		return fetchResult{}, h.fetchErr(ctx, subject, err)
	}
	if lost := lostBelow(st.CachedInfo().State, since, upTo); lost > 0 {
		return fetchResult{lostBelow: lost}, nil
	}
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       since + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: consumerIdle,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return fetchResult{}, h.fetchErr(ctx, subject, err)
	}
	defer h.deleteReplayConsumer(cons)
	if cons.CachedInfo().NumPending > uint64(h.cfg.MaxReplay) {
		return fetchResult{tooMany: true}, nil
	}
	es, err := h.readRange(ctx, subject, cons, upTo)
	if err != nil {
		return fetchResult{}, h.fetchErr(ctx, subject, err)
	}
	if len(es) > h.cfg.MaxReplay {
		return fetchResult{tooMany: true}, nil
	}
	if h.fetchHook != nil {
		h.fetchHook(since)
	}
	// Check again after reading: what was removed meanwhile may be missing.
	lost, err := h.lostAfterRead(ctx, st, since, upTo)
	if err != nil {
		return fetchResult{}, h.fetchErr(ctx, subject, err)
	}
	return fetchResult{entries: es, lostBelow: lost}, nil
}

// readRange pulls messages until one past upTo or the end of the stream.
func (h *Hub) readRange(ctx context.Context, subject string, cons jetstream.Consumer, upTo uint64) ([]entry, error) {
	channel := events.ChannelName(subject)
	var es []entry
	var dseq uint64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch, err := cons.FetchNoWait(fetchBatch)
		if err != nil {
			return nil, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, err
			}
			if dseq++; meta.Sequence.Consumer != dseq {
				return nil, errGap
			}
			seq := meta.Sequence.Stream
			if seq > upTo {
				return es, nil
			}
			data, quoted := messageData(msg.Data())
			if quoted {
				h.nonJSON.Add(1)
			}
			es = append(es, entry{seq: seq, frame: frame.AppendMessage(nil, channel, seq, data)})
			if seq == upTo || meta.NumPending == 0 || len(es) > h.cfg.MaxReplay {
				return es, nil
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			return es, nil
		}
	}
}

// lostAfterRead reads the stream state again and applies lostBelow.
func (h *Hub) lostAfterRead(ctx context.Context, st jetstream.Stream, since, upTo uint64) (uint64, error) {
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	if lost := lostBelow(info.State, since, upTo); lost > 0 || info.State.NumDeleted == 0 {
		return lost, nil
	}
	info, err = st.Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return 0, err
	}
	return lostBelow(info.State, since, upTo), nil
}

// lostBelow applies the retention rule to a stream state: the messages in
// (since, upTo] are all still stored unless the stream's first sequence is
// above since+1 (the front aged out or was purged) or a sequence in that
// range was deleted from the middle (listed in Deleted when asked for).
// It returns the bound below which a resume cannot be complete, 0 if the
// range is whole.
func lostBelow(s jetstream.StreamState, since, upTo uint64) uint64 {
	var lost uint64
	if s.FirstSeq > since+1 {
		lost = s.FirstSeq - 1
	}
	for _, d := range s.Deleted {
		if d > since && d <= upTo {
			lost = max(lost, d)
		}
	}
	return lost
}

func (h *Hub) deleteReplayConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.FetchTimeout)
	defer cancel()
	if err := h.js.DeleteConsumer(ctx, events.StreamChannels, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		h.log.Debug().Err(err).Str("consumer", info.Name).Msg("replay consumer delete failed; the server ages it out")
	}
}

// fetchErr classifies a replay failure: the caller's ctx, or unavailable.
func (h *Hub) fetchErr(ctx context.Context, subject string, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("channel: replay of %s: %w", subject, ctx.Err())
	}
	return fmt.Errorf("%w: replay of %s: %v", ErrUnavailable, subject, err)
}
