package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rec is one stored message: its stream sequence and the publisher's id.
type rec struct{ seq, id uint64 }

// ledger is what the publisher knows was stored: every acknowledged
// publish, per channel.
type ledger struct {
	mu     sync.Mutex
	bySeq  map[string]map[uint64]uint64 // channel -> seq -> id
	top    map[string]uint64            // channel -> highest acknowledged seq
	counts map[string]*atomic.Int64
	total  atomic.Int64
	dups   atomic.Int64 // retries answered duplicate:true
	errs   []string
}

func newLedger(chans []string) *ledger {
	l := &ledger{bySeq: map[string]map[uint64]uint64{}, top: map[string]uint64{}, counts: map[string]*atomic.Int64{}}
	for _, c := range chans {
		l.bySeq[c] = map[uint64]uint64{}
		l.counts[c] = &atomic.Int64{}
	}
	return l
}

// ack records a publish reply; a second ack of one id must name the
// same sequence.
func (l *ledger) ack(ch string, seq, id uint64, dup bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if dup {
		l.dups.Add(1)
	}
	if prev, ok := l.bySeq[ch][seq]; ok {
		if prev != id {
			l.errs = append(l.errs, fmt.Sprintf("%s seq %d acknowledged for ids %d and %d", ch, seq, prev, id))
		}
		return
	}
	l.bySeq[ch][seq] = id
	l.top[ch] = max(l.top[ch], seq)
	l.counts[ch].Add(1)
	l.total.Add(1)
}

func (l *ledger) fail(format string, args ...any) {
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// messageIDs number every message of the test binary: ids (and so idem
// keys) are never reused, even by publishers of different calls.
var messageIDs atomic.Uint64

// publishers are n publishers of led, each with its own connection and
// source of randomness.
func publishers(f *fleet, led *ledger, n int, seed uint64, pad int, pick func(*rand.Rand) string) []*publisher {
	ids := &messageIDs
	out := make([]*publisher, n)
	for i := range out {
		out[i] = &publisher{f: f, led: led, r: rand.New(rand.NewPCG(seed, uint64(i)+10)), pad: padding(pad),
			window: 256, ids: ids, pick: pick}
	}
	return out
}

// publishAll runs every publisher for total/len(ps) messages at once.
func publishAll(ctx context.Context, ps []*publisher, total int) error {
	errs := make(chan error, len(ps))
	for _, p := range ps {
		go func() { errs <- p.run(ctx, total/len(ps)) }()
	}
	var first error
	for range ps {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// count is how many messages of ch were acknowledged.
func (l *ledger) count(ch string) int64 { return l.counts[ch].Load() }

// last is the highest acknowledged sequence of ch (0: none).
func (l *ledger) last(ch string) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.top[ch]
}

// sorted returns the acknowledged messages of ch in sequence order.
func (l *ledger) sorted(ch string) []rec {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]rec, 0, len(l.bySeq[ch]))
	for s, id := range l.bySeq[ch] {
		out = append(out, rec{s, id})
	}
	slices.SortFunc(out, func(a, b rec) int { return int(a.seq) - int(b.seq) })
	return out
}

// payload is a message body: the id and some padding.
func payload(id uint64, pad string) json.RawMessage {
	return json.RawMessage(`{"p":` + strconv.FormatUint(id, 10) + `,"x":"` + pad + `"}`)
}

// payloadID reads the id back.
func payloadID(data json.RawMessage) (uint64, error) {
	var p struct {
		P uint64 `json:"p"`
	}
	err := json.Unmarshal(data, &p)
	return p.P, err
}

// publisher sends acknowledged publishes through a window of outstanding
// frames; after a lost connection it sends every unacknowledged publish
// again with the same idem (stored once), so every message it makes is
// eventually acknowledged.
type publisher struct {
	f      *fleet
	led    *ledger
	r      *rand.Rand
	pick   func(*rand.Rand) string
	pad    string
	pads   map[string]string // a channel's own padding, instead of pad
	window int
	ids    *atomic.Uint64 // message ids, shared by every publisher
}

type pending struct {
	ch string
	id uint64
}

// run publishes total messages (or until ctx ends when total is 0) and
// returns once every sent one is acknowledged.
func (p *publisher) run(ctx context.Context, total int) error {
	type answer struct {
		conn *int // which connection the frame came on
		f    in
	}
	frames := make(chan answer, 4*p.window+64)
	waiting := map[uint64]pending{} // msg id -> message
	inflight := map[uint64]uint64{} // frame id -> msg id
	made := 0
	var w *wire
	var conn *int
	for made < total || total == 0 && ctx.Err() == nil || len(waiting) > 0 {
		if w == nil {
			tok := new(int)
			nw, err := p.f.connect(p.r, 0, func(f in) { frames <- answer{tok, f} })
			if err != nil {
				time.Sleep(20 * time.Millisecond) // paces reconnects while a node dies
				continue
			}
			w, conn = nw, tok
			clear(inflight)
			for _, m := range waiting {
				p.send(w, m, inflight)
			}
		}
		for len(waiting) < p.window && (made < total || total == 0 && ctx.Err() == nil) {
			m := pending{ch: p.pick(p.r), id: p.ids.Add(1)}
			waiting[m.id] = m
			made++
			p.send(w, m, inflight)
		}
		select {
		case a := <-frames:
			if a.conn == conn {
				p.answer(a.f, waiting, inflight, w)
			}
		case <-w.closed:
			w = nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("publisher: no answer in 30s with %d outstanding", len(waiting))
		}
	}
	if w != nil {
		w.cut()
	}
	return nil
}

func (p *publisher) send(w *wire, m pending, inflight map[uint64]uint64) {
	id := w.nextID.Add(1)
	inflight[id] = m.id
	pad, ok := p.pads[m.ch]
	if !ok {
		pad = p.pad
	}
	_, _ = w.send(out{Op: "publish", ID: id, Channel: m.ch, Data: payload(m.id, pad), Idem: "k" + strconv.FormatUint(m.id, 10)})
}

func (p *publisher) answer(f in, waiting map[uint64]pending, inflight map[uint64]uint64, w *wire) {
	mid, ok := inflight[f.ID]
	if !ok || (f.Op != "reply" && f.Op != "error") {
		return // an answer from a previous connection, or a msg
	}
	delete(inflight, f.ID)
	m := waiting[mid]
	switch {
	case f.Op == "reply" && f.Seq > 0:
		p.led.ack(m.ch, f.Seq, m.id, f.Duplicate)
		delete(waiting, mid)
	case f.Op == "error" && f.Code == "unavailable":
		p.send(w, m, inflight) // the document: retry the same frame
	default:
		p.led.fail("publish %d on %s: %s %s %s", m.id, m.ch, f.Op, f.Code, f.Message)
		delete(waiting, mid)
	}
}

// channelNames are n channel names in the document's alphabet.
func channelNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + ":room-" + strconv.Itoa(i)
	}
	return out
}

// padding is n bytes of JSON-safe text.
func padding(n int) string { return strings.Repeat("w", n) }
