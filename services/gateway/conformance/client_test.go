package conformance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// position is what a client keeps per channel, as the document asks:
// the last seq it delivered (and the epoch it belongs to), plus what the
// test checks at the end.
type position struct {
	started bool
	start   uint64 // reply.seq of the first subscribe: everything after it is owed
	last    uint64
	epoch   string
	log     []rec
	excused [][2]uint64 // (from, to] given up with recovered:false
}

// reader is a subscribing client of the document: it drops any msg whose
// seq is not above the last it delivered, resumes every channel with
// since (and epoch) on every new connection, and records what it got.
type reader struct {
	mu      sync.Mutex
	pos     map[string]*position
	subs    map[uint64]subReq // frame id -> subscribe in flight
	epoch   string            // epoch of the current connection's hello
	conn    *int              // the current connection: frames of older ones are ignored
	drops   int
	resumes int
	lost    int       // recovered:false answers
	marks   int       // pos frames
	longest int       // most msgs replayed before one resume's reply
	answer  [2]uint64 // the last resume's reply.seq and the last seq delivered before it
	errs    []string
	frames  int // server frames handled: progress, however slow
}

type subReq struct {
	ch       string
	since    bool
	replayed int
}

func newReader(chans []string) *reader {
	r := &reader{pos: map[string]*position{}, subs: map[uint64]subReq{}}
	for _, c := range chans {
		r.pos[c] = &position{}
	}
	return r
}

// subscribe (re)subscribes every channel on w, the connection tok names.
func (r *reader) subscribe(w *wire, tok *int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.epoch, r.conn = w.hello.Epoch, tok
	clear(r.subs)
	for ch, p := range r.pos {
		f := out{Op: "subscribe", ID: w.nextID.Add(1), Channel: ch}
		if p.started {
			since := p.last
			f.Since, f.Epoch = &since, p.epoch
		}
		r.subs[f.ID] = subReq{ch: ch, since: p.started}
		if _, err := w.send(f); err != nil {
			return err
		}
	}
	return nil
}

// handle takes one server frame of the connection tok; it reports whether
// the connection must be given up (a subscribe that failed).
func (r *reader) handle(tok *int, f in) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tok != r.conn {
		return false
	}
	r.frames++
	switch f.Op {
	case "msg":
		r.deliver(f)
	case "reply":
		if q, ok := r.subs[f.ID]; ok {
			delete(r.subs, f.ID)
			r.answered(q, f)
		}
	case "error":
		q := r.subs[f.ID]
		delete(r.subs, f.ID)
		if f.Code != "unavailable" {
			r.errs = append(r.errs, fmt.Sprintf("subscribe %s: %s %s", q.ch, f.Code, f.Message))
		}
		return true
	case "pos":
		r.moved(f)
	case "reconnect", "pong":
	default:
		r.errs = append(r.errs, fmt.Sprintf("unexpected frame %+v", f))
	}
	return false
}

func (r *reader) deliver(f in) {
	p, ok := r.pos[f.Channel]
	if !ok {
		r.errs = append(r.errs, fmt.Sprintf("msg on %q, never subscribed", f.Channel))
		return
	}
	for id, q := range r.subs {
		if q.ch == f.Channel {
			q.replayed++
			r.subs[id] = q
		}
	}
	if f.Seq <= p.last {
		r.drops++
		return
	}
	id, err := payloadID(f.Data)
	if err != nil {
		r.errs = append(r.errs, fmt.Sprintf("msg %s/%d: %v", f.Channel, f.Seq, err))
		return
	}
	p.log = append(p.log, rec{f.Seq, id})
	p.last = f.Seq
}

// moved takes a pos frame: the channel has no message after the
// position up to its seq, which becomes the position.
func (r *reader) moved(f in) {
	p, ok := r.pos[f.Channel]
	if !ok {
		r.errs = append(r.errs, fmt.Sprintf("pos on %q, never subscribed", f.Channel))
		return
	}
	r.marks++
	p.last = max(p.last, f.Seq)
}

// chans names the reader's channels, for messages.
func (r *reader) chans() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.pos))
}

func (r *reader) answered(q subReq, f in) {
	p := r.pos[q.ch]
	p.epoch = r.epoch
	if !p.started {
		p.started, p.start = true, f.Seq
		p.last = max(p.last, f.Seq)
		return
	}
	r.resumes++
	r.longest = max(r.longest, q.replayed)
	r.answer = [2]uint64{f.Seq, p.last}
	switch {
	case f.Recovered == nil:
		r.errs = append(r.errs, fmt.Sprintf("resume of %s: reply without recovered: %+v", q.ch, f))
	case !*f.Recovered:
		r.lost++
		if f.Seq > p.last {
			p.excused = append(p.excused, [2]uint64{p.last, f.Seq})
			p.last = f.Seq
		}
	}
}

// caughtUp reports whether every channel has delivered up to its
// channel's last acknowledged message.
func (r *reader) caughtUp(led *ledger) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch, p := range r.pos {
		if !p.started || p.last < led.last(ch) {
			return false
		}
	}
	return true
}

// lag says, per channel, the last seq delivered against the last
// acknowledged, and the subscribes still unanswered.
func (r *reader) lag(led *ledger) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for ch, p := range r.pos {
		all := led.sorted(ch)
		var end uint64
		if len(all) > 0 {
			end = all[len(all)-1].seq
		}
		fmt.Fprintf(&b, "%s at %d of %d; ", ch, p.last, end)
	}
	fmt.Fprintf(&b, "unanswered subscribes %+v", r.subs)
	return b.String()
}

// check compares what the reader delivered with what was acknowledged:
// every acknowledged message after its first subscribe exactly once, in
// order, except inside a range it was told was lost.
func (r *reader) check(led *ledger) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := append([]string(nil), r.errs...)
	for ch, p := range r.pos {
		acked := led.sorted(ch)
		got := map[uint64]uint64{}
		for i, m := range p.log {
			if i > 0 && m.seq <= p.log[i-1].seq {
				errs = append(errs, fmt.Sprintf("%s: seq %d after %d", ch, m.seq, p.log[i-1].seq))
			}
			got[m.seq] = m.id
		}
		missing := 0
		for _, a := range acked {
			if a.seq <= p.start || excused(p.excused, a.seq) {
				continue
			}
			id, ok := got[a.seq]
			switch {
			case !ok:
				missing++
			case id != a.id:
				errs = append(errs, fmt.Sprintf("%s seq %d: got id %d, acknowledged %d", ch, a.seq, id, a.id))
			}
			delete(got, a.seq)
		}
		if missing > 0 {
			errs = append(errs, fmt.Sprintf("%s: %d acknowledged messages after seq %d never delivered", ch, missing, p.start))
		}
		for s := range got {
			if s > p.start && !excused(p.excused, s) {
				errs = append(errs, fmt.Sprintf("%s: delivered seq %d that was never acknowledged", ch, s))
			}
		}
	}
	return errs
}

func excused(ranges [][2]uint64, seq uint64) bool {
	for _, r := range ranges {
		if seq > r[0] && seq <= r[1] {
			return true
		}
	}
	return false
}

// progress is the number of server frames handled so far.
func (r *reader) progress() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames
}
