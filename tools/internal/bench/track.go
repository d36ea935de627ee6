package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// bitset is a growable set of publisher sequences.
type bitset struct{ w []uint64 }

// set adds i and reports whether it was already there.
func (b *bitset) set(i uint64) bool {
	k := int(i / 64)
	if k >= len(b.w) {
		b.w = append(b.w, make([]uint64, k-len(b.w)+1)...)
	}
	m := uint64(1) << (i % 64)
	was := b.w[k]&m != 0
	b.w[k] |= m
	return was
}

func (b *bitset) count() uint64 {
	var n int
	for _, w := range b.w {
		n += bits.OnesCount64(w)
	}
	return uint64(n)
}

// common counts the members of both sets.
func (b *bitset) common(o *bitset) uint64 {
	var n int
	for i := 0; i < min(len(b.w), len(o.w)); i++ {
		n += bits.OnesCount64(b.w[i] & o.w[i])
	}
	return uint64(n)
}

// tally holds the run's shared counters.
type tally struct {
	delivered    atomic.Uint64 // every delivery, duplicates included
	unique       atomic.Uint64
	dups         atomic.Uint64
	outOfOrder   atomic.Uint64
	malformed    atomic.Uint64
	gaps         atomic.Uint64
	sent         atomic.Uint64
	pubErrors    atomic.Uint64
	expected     atomic.Uint64 // acked publishes × subscribers of their channel
	reconnects   atomic.Uint64
	live         atomic.Int64 // clients connected now
	lastDelivery atomic.Int64 // unix nanos
	latency      histogram
	reconnect    histogram

	causeMu sync.Mutex
	causes  map[string]uint64 // disconnects by close code or kind
	nodes   map[string]int    // clients connected now, by gateway node
}

// onNode moves one client's connection count to node ("" when down).
func (t *tally) onNode(from, to string) {
	t.causeMu.Lock()
	defer t.causeMu.Unlock()
	if t.nodes == nil {
		t.nodes = map[string]int{}
	}
	if from != "" {
		if t.nodes[from]--; t.nodes[from] <= 0 {
			delete(t.nodes, from)
		}
	}
	if to != "" {
		t.nodes[to]++
	}
}

// perNode copies the connections by node.
func (t *tally) perNode() map[string]int {
	t.causeMu.Lock()
	defer t.causeMu.Unlock()
	return maps.Clone(t.nodes)
}

// cause books why a connection ended.
func (t *tally) cause(s client.State) {
	key := "connection lost"
	switch {
	case s.Code != 0:
		key = "close " + strconv.Itoa(s.Code)
	case errors.Is(s.Err, client.ErrStale):
		key = "stale (no ping)"
	}
	t.causeMu.Lock()
	defer t.causeMu.Unlock()
	if t.causes == nil {
		t.causes = map[string]uint64{}
	}
	t.causes[key]++
}

// subscriber checks one client's channel: loss, duplicates, order.
type subscriber struct {
	c    *client.Client
	ch   int
	mu   sync.Mutex
	last uint64
	seen bitset
}

func (s *subscriber) handle(t *tally, m client.Message) {
	now := time.Now()
	ts, n, ok := decodePayload(m.Data)
	if !ok {
		t.malformed.Add(1)
		return
	}
	s.mu.Lock()
	dup := s.seen.set(n)
	late := !dup && n < s.last
	s.last = max(s.last, n)
	s.mu.Unlock()
	t.delivered.Add(1)
	if dup {
		t.dups.Add(1)
		return
	}
	t.unique.Add(1)
	if late {
		t.outOfOrder.Add(1)
	}
	t.latency.Record(now.Sub(time.Unix(0, ts)))
	t.lastDelivery.Store(now.UnixNano())
}

// received counts the sequences of acked that s delivered, and those it
// delivered that were never acked (publishes that failed but were stored).
func (s *subscriber) received(acked *bitset) (matched, unacked uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	matched = s.seen.common(acked)
	return matched, s.seen.count() - matched
}

// connState follows one client's states: the live gauge, reconnects and
// the time each took (from the disconnect to the next hello). OnState
// calls come from one goroutine per client, in order.
func connState(t *tally) func(client.State) {
	var (
		down time.Time
		node string
	)
	return func(s client.State) {
		switch s.Kind {
		case client.Connected:
			t.live.Add(1)
			t.onNode(node, s.Node)
			node = s.Node
			if !down.IsZero() {
				t.reconnects.Add(1)
				t.reconnect.Record(s.Time.Sub(down))
				down = time.Time{}
			}
		case client.Disconnected:
			t.live.Add(-1)
			t.onNode(node, "")
			node = ""
			t.cause(s)
			down = s.Time
		}
	}
}

// payload is what the publisher sends: its send time (unix nanos) and the
// publisher's sequence on the channel, padded to the configured size.
type payload struct {
	TS  int64  `json:"ts"`
	N   uint64 `json:"n"`
	Pad string `json:"pad,omitempty"`
}

// encodePayload builds {"ts":..,"n":..,"pad":"xxx"} of about size bytes.
func encodePayload(ts int64, n uint64, size int) []byte {
	b := make([]byte, 0, max(size, 48))
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendUint(b, n, 10)
	if pad := size - len(b) - len(`,"pad":""}`); pad > 0 {
		b = append(b, `,"pad":"`...)
		b = append(b, strings.Repeat("x", pad)...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// decodePayload reads ts and n, by hand for the layout encodePayload
// writes and with encoding/json for anything else.
func decodePayload(b []byte) (ts int64, n uint64, ok bool) {
	if rest, found := bytes.CutPrefix(b, []byte(`{"ts":`)); found {
		i := bytes.IndexByte(rest, ',')
		if i > 0 {
			t, err1 := strconv.ParseInt(string(rest[:i]), 10, 64)
			if r2, found := bytes.CutPrefix(rest[i:], []byte(`,"n":`)); found && err1 == nil {
				j := bytes.IndexAny(r2, ",}")
				if j > 0 {
					if v, err := strconv.ParseUint(string(r2[:j]), 10, 64); err == nil {
						return t, v, true
					}
				}
			}
		}
	}
	var p payload
	if err := json.Unmarshal(b, &p); err != nil || p.N == 0 {
		return 0, 0, false
	}
	return p.TS, p.N, true
}
