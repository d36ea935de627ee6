package system

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// epochLog is a subscription's deliveries with its gaps in place.
type epochLog struct {
	mu   sync.Mutex
	seqs []uint64 // 0 marks a gap
	data []string
}

func (l *epochLog) handle(m client.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seqs = append(l.seqs, m.Seq)
	l.data = append(l.data, string(m.Data))
}

func (l *epochLog) gap(client.Gap) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seqs = append(l.seqs, 0)
	l.data = append(l.data, "")
}

// since returns what was delivered after the last gap.
func (l *epochLog) since() (seqs []uint64, data []string, gaps int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	from := 0
	for i, s := range l.seqs {
		if s == 0 {
			from, gaps = i+1, gaps+1
		}
	}
	return append([]uint64(nil), l.seqs[from:]...), append([]string(nil), l.data[from:]...), gaps
}

// TestGatewayStreamRecreatedWhilePublishing: the channel stream is
// recreated again and again while publishers keep going. Each time the
// node asks the subscriber to start over; its resume is answered
// recovered:false in the new epoch, and live messages may reach it before
// that reply, with sequences below its old position. After each gap the
// subscriber must get every message of the new stream after the reply's
// position, once and in order: a contiguous run of sequences (the stream
// holds this channel only) ending at the last one published, with the
// data acknowledged for each, and no message taken for a duplicate (the
// node sends none here). The race is timing-dependent: several rounds
// with several publishers make it likely, not certain.
func TestGatewayStreamRecreatedWhilePublishing(t *testing.T) {
	ns := natstest.Start(t)
	node := startNode(t, nodeConfig(ns, "gw-ep"))
	log := &epochLog{}
	c := dialT(t, testConfig(&recorder{}, node.URL()))
	sub, err := c.Subscribe(context.Background(), "feed", log.handle, client.WithGap(log.gap))
	if err != nil {
		t.Fatal(err)
	}
	pub := dialT(t, testConfig(&recorder{}, node.URL()))
	publishAll(t, pub, "feed", 1, 80) // a position above what each new stream reaches first
	natstest.Eventually(t, 10*time.Second, func() bool { return sub.LastSeq() == 80 }, "first 80")

	_, js := ns.JetStream()
	var n atomic.Int64
	for round := 1; round <= 4; round++ {
		before := sub.Epoch()
		if err := js.DeleteStream(context.Background(), events.StreamChannels); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := events.Ensure(ctx, js, events.EnsureOptions{Replicas: 1})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		acked := map[uint64]string{} // the new stream's messages
		var mu sync.Mutex
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					d := strconv.FormatInt(n.Add(1), 10)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					ack, err := pub.Publish(ctx, "feed", []byte(d))
					cancel()
					if err != nil {
						t.Errorf("publish: %v", err)
						return
					}
					mu.Lock()
					acked[ack.Seq] = d
					mu.Unlock()
				}
			}()
		}
		natstest.Eventually(t, 20*time.Second, func() bool {
			_, _, gaps := log.since()
			mu.Lock()
			some := len(acked) > 0
			mu.Unlock()
			return gaps == round && sub.Epoch() != before && some
		}, "round %d: no gap on a new epoch", round)
		// Keep publishing a little past the resume, then stop.
		mark := n.Load()
		natstest.Eventually(t, 10*time.Second, func() bool { return n.Load() > mark+50 }, "publishing")
		stop.Store(true)
		wg.Wait()
		var head uint64
		for s := range acked {
			head = max(head, s)
		}
		natstest.Eventually(t, 10*time.Second, func() bool { return sub.LastSeq() == head }, "round %d: up to %d, at %d", round, head, sub.LastSeq())
		seqs, data, _ := log.since()
		if len(seqs) == 0 {
			t.Fatalf("round %d: nothing after the gap", round)
		}
		for i, s := range seqs {
			if want := seqs[0] + uint64(i); s != want || data[i] != acked[s] {
				t.Fatalf("round %d: after the gap message %d is seq %d %q, want seq %d %q (all: %v)",
					round, i, s, data[i], want, acked[want], seqs)
			}
		}
		if d := sub.Duplicates(); d != 0 {
			t.Fatalf("round %d: %d messages dropped as duplicates; after the gap: %v", round, d, seqs)
		}
		t.Logf("round %d: %d messages after the gap, from seq %d", round, len(seqs), seqs[0])
	}
}
