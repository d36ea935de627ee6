package client

import (
	"context"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

func TestBackoffCap(t *testing.T) {
	b := Backoff{}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{0, 200 * time.Millisecond}, {1, 200 * time.Millisecond}, {2, 400 * time.Millisecond},
		{7, 12800 * time.Millisecond}, {8, 20 * time.Second}, {9, 20 * time.Second},
		{1000, 20 * time.Second},
	} {
		if got := b.Cap(tc.attempt); got != tc.want {
			t.Errorf("Cap(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
}

// uniformity checks that xs (each in [0,1)) look uniform: mean near 1/2,
// a chi-square over 10 buckets below the 1% critical value (21.67 for 9
// degrees of freedom), and a Kolmogorov-Smirnov distance below the 1%
// critical value 1.63/sqrt(n). The random source is seeded, so the check
// is deterministic.
func uniformity(t *testing.T, name string, xs []float64) {
	t.Helper()
	n := float64(len(xs))
	var sum float64
	var buckets [10]float64
	for _, x := range xs {
		if x < 0 || x >= 1 {
			t.Fatalf("%s: value %v outside [0,1)", name, x)
		}
		sum += x
		buckets[int(x*10)]++
	}
	// The standard error of the mean of n uniforms is 1/sqrt(12n).
	if mean := sum / n; math.Abs(mean-0.5) > 4/math.Sqrt(12*n) {
		t.Errorf("%s: mean %.4f of cap, want 0.5", name, mean)
	}
	var chi float64
	for _, o := range buckets {
		e := n / 10
		chi += (o - e) * (o - e) / e
	}
	if chi > 21.67 {
		t.Errorf("%s: chi-square %.2f over 10 buckets %v, want < 21.67", name, chi, buckets)
	}
	sorted := append([]float64(nil), xs...)
	slices.Sort(sorted)
	var d float64
	for i, x := range sorted {
		d = max(d, math.Abs(float64(i+1)/n-x), math.Abs(x-float64(i)/n))
	}
	if crit := 1.63 / math.Sqrt(n); d > crit {
		t.Errorf("%s: KS distance %.4f, want < %.4f", name, d, crit)
	}
}

// TestBackoffFullJitter: for each attempt, 1,000 delays fall in [0, cap)
// and are uniform over it.
func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{Base: 200 * time.Millisecond, Max: 20 * time.Second}
	r := rand.New(rand.NewPCG(1, 2))
	for attempt := 1; attempt <= 10; attempt++ {
		c := b.Cap(attempt)
		xs := make([]float64, 1000)
		for i := range xs {
			xs[i] = float64(b.Delay(attempt, r)) / float64(c)
		}
		uniformity(t, "attempt "+strconv.Itoa(attempt), xs)
	}
}

// TestReconnectDelays runs 1,000 reconnects through the client's own loop
// against a refusing address, recording the sleeps instead of taking them:
// attempts count up, every delay lies in [0, cap(attempt)), and the delays
// relative to their cap are uniform.
func TestReconnectDelays(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // connections are refused from now on
	const n = 1000
	states := make(chan State, n+10)
	cfg := Config{URLs: []string{"ws://" + addr + "/ws"}, DialTimeout: time.Second,
		OnState: func(s State) {
			if s.Kind == Reconnecting {
				states <- s
			}
		}}
	c := newClient(cfg)
	c.rnd = rand.New(rand.NewPCG(3, 4))
	c.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	go c.run()
	go c.dispatch()
	xs := make([]float64, 0, n)
	for i := 1; i <= n; i++ {
		s := <-states
		if s.Attempt != i || s.Hinted || s.Err == nil {
			t.Fatalf("reconnect %d: %+v", i, s)
		}
		capd := c.cfg.Backoff.Cap(s.Attempt)
		if s.Delay < 0 || s.Delay >= capd {
			t.Fatalf("attempt %d: delay %v outside [0, %v)", i, s.Delay, capd)
		}
		xs = append(xs, float64(s.Delay)/float64(capd))
	}
	_ = c.Close()
	uniformity(t, "reconnect loop", xs)
}

// TestAttemptReset: a gateway that closes every connection right after
// its hello makes the attempt count climb, unless the connections count
// as stable, which resets it.
func TestAttemptReset(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stable time.Duration
		want   []int
	}{
		{"unstable connections climb", time.Hour, []int{1, 2, 3, 4, 5}},
		{"stable connections reset", time.Nanosecond, []int{1, 1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, newHub(), "n1")
			p.kick = frame.CloseRateLimited
			states := make(chan State, 100)
			cfg := Config{URLs: []string{p.URL}, Backoff: Backoff{Stable: tc.stable},
				OnState: func(s State) {
					if s.Kind == Reconnecting {
						select {
						case states <- s:
						default:
						}
					}
				}}
			c := newClient(cfg)
			c.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
			go c.run()
			go c.dispatch()
			defer func() { _ = c.Close() }()
			for i, want := range tc.want {
				select {
				case s := <-states:
					if s.Attempt != want {
						t.Fatalf("reconnect %d: attempt %d, want %d", i+1, s.Attempt, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("reconnect %d never came", i+1)
				}
			}
		})
	}
}

// TestURLsShuffled: clients do not all start with the first URL.
func TestURLsShuffled(t *testing.T) {
	urls := []string{"ws://a:1/ws", "ws://b:1/ws", "ws://c:1/ws"}
	first := map[string]int{}
	for range 300 {
		first[newClient(Config{URLs: urls}).urls[0]]++
	}
	for _, u := range urls {
		if first[u] < 50 {
			t.Fatalf("first URL counts %v: not spread", first)
		}
	}
}
