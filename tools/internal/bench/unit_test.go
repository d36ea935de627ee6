package bench

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// TestHistogramQuantiles: quantiles are within the 1/64 bucket precision
// of the exact ones, and the max is exact.
func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(5, 6))
	vals := make([]time.Duration, 10000)
	for i := range vals {
		vals[i] = time.Duration(r.ExpFloat64()*20e3) * time.Microsecond // mean 20 ms
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.02 || diff < -0.02 {
			t.Errorf("q%.3f = %v, exact %v", q, got, want)
		}
	}
	if h.Max() != vals[len(vals)-1].Truncate(time.Microsecond) {
		t.Errorf("max %v, want %v", h.Max(), vals[len(vals)-1])
	}
	if h.Count() != 10000 {
		t.Errorf("count %d", h.Count())
	}
	var empty histogram
	if empty.Quantile(0.99) != 0 {
		t.Error("empty histogram has a quantile")
	}
}

func TestHistogramIndexMonotonic(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<22; us += 1 + us/97 {
		i := histIndex(us)
		if i < prev || i >= histBuckets {
			t.Fatalf("index(%d) = %d after %d", us, i, prev)
		}
		if v := histValue(i); float64(v) < float64(us)*0.98 || float64(v) > float64(us)*1.02+1 {
			t.Fatalf("value(index(%d)) = %d", us, v)
		}
		prev = i
	}
	if histIndex(1<<62) != histBuckets-1 {
		t.Fatal("huge values must land in the last bucket")
	}
}

func TestPayload(t *testing.T) {
	for _, size := range []int{0, 10, 48, 128, 4096} {
		b := encodePayload(1700000000123456789, 42, size)
		if size > 48 && len(b) != size {
			t.Errorf("size %d: payload of %d bytes", size, len(b))
		}
		ts, n, ok := decodePayload(b)
		if !ok || ts != 1700000000123456789 || n != 42 {
			t.Errorf("size %d: decoded %d %d %v from %s", size, ts, n, ok, b)
		}
	}
	// Other layouts take the slow path; non-payloads are refused.
	for in, ok := range map[string]bool{`{"n":3,"ts":5}`: true, `{"ts":5}`: false, `"x"`: false, `{"ts":1,"n":x}`: false} {
		if _, _, got := decodePayload([]byte(in)); got != ok {
			t.Errorf("decode %s: ok %v, want %v", in, got, ok)
		}
	}
}

func TestBitset(t *testing.T) {
	var a, b bitset
	for _, i := range []uint64{1, 2, 64, 65, 1000} {
		if a.set(i) {
			t.Fatalf("%d already set", i)
		}
	}
	if !a.set(64) || a.count() != 5 {
		t.Fatalf("count %d", a.count())
	}
	b.set(2)
	b.set(1000)
	b.set(7)
	if a.common(&b) != 2 {
		t.Fatalf("common %d", a.common(&b))
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "URL"},
		{Config{URLs: []string{"ws://x/ws"}, SourceAddrs: []string{"nope"}}, "source address"},
		{Config{URLs: []string{"ws://x/ws"}, Size: 1 << 20}, "size"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	c := Config{Rate: 1000, Channels: 4}.withDefaults()
	if c.Publishers != 4 || c.Clients != DefaultClients {
		t.Errorf("defaults %+v", c)
	}
}

// FuzzDecodePayload: any delivered data is either refused or decoded
// without panicking; encoded payloads round trip.
func FuzzDecodePayload(f *testing.F) {
	f.Add([]byte(encodePayload(5, 7, 64)))
	f.Add([]byte(`{"ts":-1,"n":18446744073709551615}`))
	f.Add([]byte(`{"ts":,"n":}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = decodePayload(b)
	})
}

// TestRunInterrupted: cancelling during the ramp still yields a report.
func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := Run(ctx, Config{URLs: []string{"ws://127.0.0.1:1/ws"}, Clients: 3}, nil)
	if err != nil || rep == nil || !rep.Interrupted || rep.ConnectionsHeld != 0 {
		t.Fatalf("Run = %+v, %v; want an interrupted report", rep, err)
	}
}

// TestTallyDetects: the checker sees loss, duplicates and reordering.
func TestTallyDetects(t *testing.T) {
	r := &run{cfg: Config{Channels: 1}, perCh: []uint64{1}, acked: []*bitset{{}}, ackMu: make([]sync.Mutex, 1)}
	s := &subscriber{ch: 0}
	r.subs = []*subscriber{s}
	for n := uint64(1); n <= 5; n++ {
		r.acked[0].set(n)
	}
	for _, n := range []uint64{1, 2, 2, 4, 3, 9} {
		s.handle(&r.t, client.Message{Data: encodePayload(time.Now().UnixNano(), n, 0)})
	}
	lost, unacked := r.missing()
	if lost != 1 || unacked != 1 || r.t.dups.Load() != 1 || r.t.outOfOrder.Load() != 1 || r.t.unique.Load() != 5 {
		t.Fatalf("lost %d unacked %d dups %d ooo %d unique %d", lost, unacked, r.t.dups.Load(), r.t.outOfOrder.Load(), r.t.unique.Load())
	}
	s.handle(&r.t, client.Message{Data: []byte(`"junk"`)})
	if r.t.malformed.Load() != 1 {
		t.Fatal("malformed payload not counted")
	}
}
