package system

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// recorder collects deliveries, gaps and states.
type recorder struct {
	mu     sync.Mutex
	seqs   []uint64
	data   []string
	gaps   []client.Gap
	states []client.State
}

func (r *recorder) handle(m client.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs = append(r.seqs, m.Seq)
	r.data = append(r.data, string(m.Data))
}

func (r *recorder) gap(g client.Gap) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gaps = append(r.gaps, g)
}

func (r *recorder) state(s client.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

func (r *recorder) snapshot() (seqs []uint64, data []string, gaps []client.Gap, states []client.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs), slices.Clone(r.data), slices.Clone(r.gaps), slices.Clone(r.states)
}

func (r *recorder) kinds(k client.Kind) []client.State {
	_, _, _, states := r.snapshot()
	var out []client.State
	for _, s := range states {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

func testConfig(rec *recorder, urls ...string) client.Config {
	return client.Config{
		URLs:        urls,
		Backoff:     client.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		DialTimeout: 2 * time.Second,
		OnState:     rec.state,
		OnGap:       rec.gap,
	}
}

func dialT(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// wantInOrder checks that data is exactly 1..n, once each, in order.
func wantInOrder(t *testing.T, data []string, n int) {
	t.Helper()
	if len(data) != n {
		t.Fatalf("delivered %d messages, want %d: %v", len(data), n, data)
	}
	for i, d := range data {
		if d != fmt.Sprint(i+1) {
			t.Fatalf("message %d is %s, want %d (all: %v)", i, d, i+1, data)
		}
	}
}
