package channel

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// countSub counts deliveries; only the fan-out goroutine touches n.
type countSub struct{ n int }

func (s *countSub) Deliver([]byte) bool { s.n++; return true }

// lastSub is the last member of the channel: when it has every message,
// every member before it has too.
type lastSub struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
}

func (s *lastSub) Deliver([]byte) bool {
	if s.n.Add(1) == s.target {
		close(s.done)
	}
	return true
}

// BenchmarkFanout publishes through a real (embedded) NATS JetStream to N
// in-process subscribers of one channel and reports messages/s published
// and frames/s handed to subscribers.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			s := natstest.Start(b)
			h := newHub(b, s, Config{})
			for range n - 1 {
				if _, err := h.Subscribe(ctxT(b), "bench", &countSub{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			last := &lastSub{target: int64(b.N), done: make(chan struct{})}
			if _, err := h.Subscribe(ctxT(b), "bench", last, nil); err != nil {
				b.Fatal(err)
			}
			_, js := s.JetStream()
			payload := []byte(`{"price":101.25,"symbol":"ACME","ts":1700000000000}`)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := js.PublishAsync(events.ChannelSubject("bench"), payload); err != nil {
					b.Fatal(err)
				}
			}
			waitBench(b, js, last.done)
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(b.N)*float64(n)/elapsed.Seconds(), "frames/s")
		})
	}
}

func waitBench(b *testing.B, js jetstream.JetStream, done <-chan struct{}) {
	b.Helper()
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishes not acknowledged")
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatal("fan-out did not finish")
	}
}

// BenchmarkDeliver measures the in-process part of fan-out alone: one
// encoded frame handed to N members; it must not allocate.
func BenchmarkDeliver(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			t := newTopic(&Hub{}, "bench")
			for range n {
				t.addLocked(&countSub{}, 0)
			}
			seqs, frames := []uint64{0}, [][]byte{frame.AppendMessage(nil, "bench", 1, []byte(`{"x":1}`))}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				seqs[0] = uint64(i + 1)
				t.deliver(t.members, seqs, frames)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// BenchmarkReplay resumes a gap of 20,000 messages (among other channels'
// traffic) to a subscriber that reads at once, and reports replayed
// messages/s and the heap allocated per replay: memory per replay is
// bounded by a page, not by the gap.
func BenchmarkReplay(b *testing.B) {
	const gap = 20000
	s := natstest.Start(b)
	_, js := s.JetStream()
	payload := []byte(`{"price":101.25,"symbol":"ACME","ts":1700000000000}`)
	for i := range gap + gap/4 {
		ch := "replay"
		if i%5 == 4 {
			ch = "noise"
		}
		if _, err := js.PublishAsync(events.ChannelSubject(ch), payload); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	h := newHub(b, s, Config{})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		sub := &countSub{}
		res, err := h.Subscribe(ctxT(b), "replay", sub, &Position{Seq: 0})
		if err != nil || !res.Recovered || sub.n != gap {
			b.Fatalf("replay: %+v %v, %d messages", res, err, sub.n)
		}
		h.Unsubscribe("replay", sub)
	}
	b.ReportMetric(float64(b.N*gap)/time.Since(start).Seconds(), "msgs/s")
}
