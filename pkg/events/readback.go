package events

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReadBack calls fn with the messages of stream, newest first, until fn
// returns false, maxScan messages have been read or the stream's first
// message is passed. It reads windows of up to window messages, each with
// one ordered-consumer fetch, rather than asking for one message at a
// time: a view of the last N actions costs a few requests, not N, which
// is what keeps it inside a dashboard's tick on a loaded host.
func ReadBack(ctx context.Context, js jetstream.JetStream, stream string, window, maxScan int, fn func(seq uint64, data []byte) bool) error {
	if window <= 0 {
		window = 100
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("events: stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("events: stream %s: %w", stream, err)
	}
	first, hi := info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 || hi == 0 {
		return nil
	}
	if first == 0 {
		first = 1
	}
	type msg struct {
		seq  uint64
		data []byte
	}
	scanned := 0
	for hi >= first && scanned < maxScan {
		lo := first
		if hi-first >= uint64(window) {
			lo = hi - uint64(window) + 1
		}
		cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: lo,
			InactiveThreshold: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("events: read %s: %w", stream, err)
		}
		batch, err := cons.FetchNoWait(int(hi - lo + 1))
		if err != nil {
			return fmt.Errorf("events: read %s: %w", stream, err)
		}
		var got []msg
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil || meta.Sequence.Stream > hi {
				continue // a message newer than the window: a later window has it
			}
			got = append(got, msg{meta.Sequence.Stream, m.Data()})
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("events: read %s: %w", stream, err)
		}
		slices.Reverse(got)
		for _, m := range got {
			scanned++
			if !fn(m.seq, m.data) || scanned >= maxScan {
				return nil
			}
		}
		if lo == first {
			return nil
		}
		hi = lo - 1
	}
	return nil
}
