package pool

import (
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestRTTQuantiles(t *testing.T) {
	h := newRTTHist()
	for i := 1; i <= 100; i++ {
		h.observe(time.Duration(i) * time.Millisecond)
	}
	if peek := h.quantiles(false); peek.Samples != 100 {
		t.Fatalf("peek = %+v", peek)
	}
	r := h.quantiles(true)
	cases := []struct {
		name      string
		got, want float64
	}{
		{"p50", r.P50, 50}, {"p90", r.P90, 90}, {"p99", r.P99, 99},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Buckets are 2^(1/4) wide: the estimate is an upper bound
			// within 19%.
			if tc.got < tc.want || tc.got > tc.want*1.19 {
				t.Fatalf("%s = %.2f ms, want %.0f..%.1f", tc.name, tc.got, tc.want, tc.want*1.19)
			}
		})
	}
	if r.Samples != 100 {
		t.Fatalf("samples = %d", r.Samples)
	}
	if again := h.quantiles(true); again.Samples != 0 || again.P99 != 0 {
		t.Fatalf("take did not reset: %+v", again)
	}
}

func TestInboundBucket(t *testing.T) {
	var c Conn
	now := time.Now().UnixNano()
	allowed := 0
	for range 50 {
		if c.allowInbound(now, 10, 20) {
			allowed++
		}
	}
	if allowed != 20 {
		t.Fatalf("burst allowed %d, want 20", allowed)
	}
	if !c.allowInbound(now+int64(150*time.Millisecond), 10, 20) {
		t.Fatal("a token should have refilled after 150 ms at 10/s")
	}
	if c.allowInbound(now+int64(150*time.Millisecond), 10, 20) {
		t.Fatal("only one token should have refilled")
	}
	var free Conn
	for range 1000 {
		if !free.allowInbound(now, 0, 1) {
			t.Fatal("rate 0 means unlimited")
		}
	}
}

func TestJitter(t *testing.T) {
	iv := int64(5 * time.Second)
	for range 1000 {
		j := jitter(iv)
		if j < iv*9/10 || j > iv*11/10 {
			t.Fatalf("jitter %v outside ±10%% of %v", time.Duration(j), time.Duration(iv))
		}
	}
}

func TestAdmit(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Limits
		drain   bool
		admits  int
		wantErr error
	}{
		{"cap", Limits{MaxConns: 3, AcceptRate: 1000, AcceptBurst: 1000}, false, 3, ErrFull},
		{"rate", Limits{MaxConns: 100, AcceptRate: 0.001, AcceptBurst: 2}, false, 2, ErrRate},
		{"draining", Limits{MaxConns: 100, AcceptRate: 1000, AcceptBurst: 1000}, true, 0, ErrDraining},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.cfg, nil, nil, zerolog.Nop())
			p.SetDraining(tc.drain)
			for i := range tc.admits {
				if _, err := p.Admit(); err != nil {
					t.Fatalf("admit %d: %v", i, err)
				}
			}
			retry, err := p.Admit()
			if !errors.Is(err, tc.wantErr) || retry <= 0 {
				t.Fatalf("admit over the limit: %v retry %v, want %v", err, retry, tc.wantErr)
			}
			if got := p.Totals().Rejected; got != 1 {
				t.Fatalf("rejected = %d", got)
			}
		})
	}
}
