package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/services/notifier/sink"
)

// script is a sender answering from a list of outcomes.
type script struct {
	mu    sync.Mutex
	steps []step
	calls int
}

type step struct {
	retryable bool
	err       error
}

func (s *script) Notify(context.Context, sink.Message) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	return st.retryable, st.err
}

// memSent is an in-memory Sent.
type memSent struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (m *memSent) Seen(_ context.Context, msg sink.Message) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ids[msg.ID], nil
}

func (m *memSent) Mark(_ context.Context, msg sink.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids[msg.ID] = true
	return nil
}

func noSleep(waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error { *waits = append(*waits, d); return nil }
}

func TestRetryStage(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name     string
		steps    []step
		attempts int
		ok       bool
	}{
		{"first time", []step{{false, nil}}, 1, true},
		{"retryable then ok", []step{{true, boom}, {true, boom}, {false, nil}}, 3, true},
		{"permanent", []step{{false, boom}}, 1, false},
		{"exhausted", []step{{true, boom}}, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var waits []time.Duration
			s := &script{steps: tc.steps}
			n, err := Retry{Attempts: 3, Initial: 10 * time.Millisecond, Sleep: noSleep(&waits)}.Do(context.Background(), func(ctx context.Context) (bool, error) {
				return s.Notify(ctx, sink.Message{})
			}, nil)
			if n != tc.attempts || (err == nil) != tc.ok {
				t.Fatalf("Do = %d, %v", n, err)
			}
			if tc.name == "exhausted" && !errors.Is(err, ErrGaveUp) {
				t.Fatalf("err %v, want ErrGaveUp", err)
			}
		})
	}
}

func TestDelayJitterAndRetryAfter(t *testing.T) {
	r := Retry{Initial: 100 * time.Millisecond, Max: time.Second}
	for n := 1; n <= 6; n++ {
		step := min(100*time.Millisecond<<(n-1), time.Second)
		d := r.Delay(n, errors.New("x"))
		if d < step/2 || d > step {
			t.Fatalf("attempt %d: delay %v outside [%v, %v]", n, d, step/2, step)
		}
	}
	ra := &sink.RetryAfterError{After: 30 * time.Second, Err: sink.ErrThrottled}
	if d := r.Delay(1, ra); d != 30*time.Second {
		t.Fatalf("Retry-After ignored: %v", d)
	}
}

func TestLongWaitReportsProgress(t *testing.T) {
	var waits []time.Duration
	progress := 0
	r := Retry{Attempts: 2, Sleep: noSleep(&waits)}
	ra := &sink.RetryAfterError{After: 12 * time.Second, Err: sink.ErrThrottled}
	s := &script{steps: []step{{true, ra}, {false, nil}}}
	if _, err := r.Do(context.Background(), func(ctx context.Context) (bool, error) { return s.Notify(ctx, sink.Message{}) }, func() { progress++ }); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 3 || progress < 4 {
		t.Fatalf("waits %v progress %d: a 12 s wait should be cut in 5 s slices with progress between", waits, progress)
	}
}

func TestDedupStage(t *testing.T) {
	s := &script{steps: []step{{false, nil}}}
	sent := &memSent{ids: map[string]bool{}}
	p := Pipeline{Sender: s, Dedup: sent}
	m := sink.Message{ID: "a"}
	first := p.Send(context.Background(), m, nil)
	second := p.Send(context.Background(), m, nil)
	if first.Err != nil || first.Duplicate || !second.Duplicate || s.calls != 1 {
		t.Fatalf("first %+v second %+v calls %d", first, second, s.calls)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(2, 2) // 2/s, burst 2
	l.now = func() time.Time { return now }
	for i, want := range []time.Duration{0, 0, 500 * time.Millisecond, time.Second} {
		if got := l.Reserve(); got != want {
			t.Fatalf("reserve %d: %v, want %v", i, got, want)
		}
	}
	now = now.Add(10 * time.Second)
	if got := l.Reserve(); got != 0 {
		t.Fatalf("after refill: %v", got)
	}
	if NewLimiter(0, 1).Reserve() != 0 {
		t.Fatal("zero rate limits")
	}
}
