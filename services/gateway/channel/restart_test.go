package channel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// publishRetry publishes with an idempotency id until NATS answers, as a
// client retrying across a NATS restart would.
func publishRetry(h *Hub, ch string, i int) (uint64, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		seq, _, err := h.Publish(ctx, "", ch, fmt.Appendf(nil, `{"i":%d}`, i), fmt.Sprintf("%s-%d", ch, i))
		cancel()
		if err == nil {
			return seq, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("publish %d: %w", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNATSRestart restarts the NATS server under live subscribers: the
// ordered consumers reset themselves and no message is lost or
// duplicated.
func TestNATSRestart(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	subs := []*testSub{newSub(1000), newSub(1000)}
	for _, sub := range subs {
		if _, err := h.Subscribe(ctxT(t), "live", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	var want []uint64
	publish := func(from, to int, pace time.Duration) {
		for i := from; i < to; i++ {
			time.Sleep(pace)
			seq, err := publishRetry(h, "live", i)
			if err != nil {
				t.Error(err)
				return
			}
			want = append(want, seq)
		}
	}
	publish(0, 20, 0)
	waitSeqs(t, subs[0], want)
	// Publish across the restart.
	done := make(chan struct{})
	go func() { defer close(done); publish(20, 80, 5*time.Millisecond) }()
	natstest.Eventually(t, 10*time.Second, func() bool { return subs[0].count() >= 30 }, "no traffic before the restart")
	s.Restart()
	<-done
	if t.Failed() {
		t.FailNow()
	}
	for _, sub := range subs {
		waitSeqs(t, sub, want)
	}
	// A resume after the restart still replays from JetStream.
	late := newSub(1000)
	res, err := h.Subscribe(ctxT(t), "live", late, ptr(want[9]))
	if err != nil || !res.Recovered {
		t.Fatalf("resume after restart: %+v %v", res, err)
	}
	checkSeqs(t, late.seqs(), want[10:])
	more, err := publishRetry(h, "live", 80)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		waitSeqs(t, sub, append(append([]uint64(nil), want...), more))
	}
	waitSeqs(t, late, append(append([]uint64(nil), want[10:]...), more))
}
