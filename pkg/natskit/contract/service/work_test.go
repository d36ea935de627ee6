package service_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// workStream makes a stream for the test and returns its JetStream.
func workStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.JetStream()
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "WORKTEST", Subjects: []string{"worktest.>"}}); err != nil {
		t.Fatal(err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.Publish(context.Background(), "worktest.m", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// runWork runs w with h until the test ends.
func runWork(t *testing.T, js jetstream.JetStream, w service.Work, h service.WorkHandler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, js, h, zerolog.New(zerolog.NewTestWriter(t))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("work: %v", err)
		}
	})
}

func info(t *testing.T, js jetstream.JetStream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(context.Background(), "WORKTEST", durable)
	if err != nil {
		return nil
	}
	i, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// settled: the consumer holds nothing pending or unacknowledged.
func settled(t *testing.T, js jetstream.JetStream, durable string) {
	t.Helper()
	natstest.Eventually(t, 15*time.Second, func() bool {
		i := info(t, js, durable)
		return i != nil && i.NumPending == 0 && i.NumAckPending == 0
	}, "consumer %s settled", durable)
}

func work(durable string) service.Work {
	return service.Work{Stream: "WORKTEST", Durable: durable, Filter: "worktest.>", AckWait: time.Second, MaxInFlight: 4, Replay: time.Minute}
}

func TestWorkOutcomes(t *testing.T) {
	js := workStream(t)
	publish(t, js, 3) // m0 is acked, m1 retried once then acked, m2 dropped
	var mu sync.Mutex
	calls := map[string]int{}
	runWork(t, js, work("outcomes"), func(_ context.Context, msg jetstream.Msg) service.Outcome {
		mu.Lock()
		defer mu.Unlock()
		m := string(msg.Data())
		calls[m]++
		switch {
		case m == "m1" && calls[m] == 1:
			return service.RetryIn(50 * time.Millisecond)
		case m == "m2":
			return service.Drop("m2 is bad")
		}
		return service.Ack()
	})
	natstest.Eventually(t, 15*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return calls["m1"] == 2 }, "m1 retried")
	settled(t, js, "outcomes")
	mu.Lock()
	defer mu.Unlock()
	if calls["m0"] != 1 || calls["m1"] != 2 || calls["m2"] != 1 {
		t.Fatalf("calls %v, want m0 once, m1 twice, m2 once", calls)
	}
}

func TestWorkBoundsInFlightAndKeepsLongWorkAlive(t *testing.T) {
	js := workStream(t)
	publish(t, js, 6)
	w := work("bounded")
	w.MaxInFlight, w.AckWait = 2, 600*time.Millisecond
	var now, most, total atomic.Int32
	seen := sync.Map{}
	runWork(t, js, w, func(ctx context.Context, msg jetstream.Msg) service.Outcome {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if _, again := seen.LoadOrStore(string(msg.Data()), true); again {
			t.Errorf("%s delivered again while its handler ran", msg.Data())
		}
		total.Add(1)
		select { // the work takes longer than two AckWaits
		case <-ctx.Done():
		case <-time.After(5 * w.AckWait / 2):
		}
		return service.Ack()
	})
	settled(t, js, "bounded")
	if total.Load() != 6 || most.Load() > 2 {
		t.Fatalf("%d handled, at most %d at once; want 6, at most 2", total.Load(), most.Load())
	}
}

func TestWorkRetunesAnExistingConsumer(t *testing.T) {
	js := workStream(t)
	w := work("retuned")
	if _, err := js.CreateConsumer(context.Background(), "WORKTEST", jetstream.ConsumerConfig{Durable: w.Durable,
		FilterSubject: w.Filter, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 10 * time.Second, MaxAckPending: 100}); err != nil {
		t.Fatal(err)
	}
	publish(t, js, 1)
	var got atomic.Int32
	runWork(t, js, w, func(context.Context, jetstream.Msg) service.Outcome { got.Add(1); return service.Ack() })
	settled(t, js, w.Durable)
	i := info(t, js, w.Durable)
	if i.Config.AckWait != w.AckWait || i.Config.MaxAckPending != w.MaxInFlight || got.Load() != 1 {
		t.Fatalf("consumer ack wait %s, max ack pending %d, handled %d", i.Config.AckWait, i.Config.MaxAckPending, got.Load())
	}
}

func TestWorkStopHandsTheMessageBack(t *testing.T) {
	js := workStream(t)
	publish(t, js, 1)
	w := work("stopped")
	// Longer than the wait below: the next replica gets the message only
	// if the stopping one handed it back.
	w.AckWait = time.Minute
	started := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, js, func(ctx context.Context, _ jetstream.Msg) service.Outcome {
			once.Do(func() { close(started) })
			<-ctx.Done()
			return service.Ack() // too late: the replica is stopping
		}, zerolog.Nop())
	}()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var again atomic.Int32
	runWork(t, js, w, func(context.Context, jetstream.Msg) service.Outcome { again.Add(1); return service.Ack() })
	natstest.Eventually(t, 15*time.Second, func() bool { return again.Load() == 1 }, "the message handled by the next replica")
	settled(t, js, w.Durable)
}

func TestWorkRetryDoesNotHoldBackTheMessagesBehind(t *testing.T) {
	js := workStream(t)
	publish(t, js, 3)
	w := work("pending")
	w.MaxInFlight, w.MaxPending = 1, 8
	var mu sync.Mutex
	var order []string
	var now, most atomic.Int32
	runWork(t, js, w, func(_ context.Context, msg jetstream.Msg) service.Outcome {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		mu.Lock()
		defer mu.Unlock()
		order = append(order, string(msg.Data()))
		if string(msg.Data()) == "m0" {
			return service.RetryIn(time.Hour) // waits far longer than the test
		}
		return service.Ack()
	})
	natstest.Eventually(t, 15*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 3 }, "m1 and m2 handled behind the waiting m0")
	mu.Lock()
	defer mu.Unlock()
	if order[0] != "m0" || order[1] != "m1" || order[2] != "m2" || most.Load() != 1 {
		t.Fatalf("handled %v, at most %d at once; want m0 m1 m2 one at a time", order, most.Load())
	}
	if i := info(t, js, w.Durable); i.Config.MaxAckPending != 8 || i.NumAckPending != 1 {
		t.Fatalf("max ack pending %d, %d pending; want 8 and m0 pending", i.Config.MaxAckPending, i.NumAckPending)
	}
}
