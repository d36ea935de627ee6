package channel

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestMarkProves(t *testing.T) {
	tests := []struct {
		name string
		m    mark
		p    uint64
		want bool
	}{
		{"channel's last at the position, front behind it", mark{last: 10, first: 5, upTo: 90}, 10, true},
		{"position is a watermark, channel's last below it", mark{last: 10, first: 40, upTo: 90}, 50, true},
		{"empty channel, front just after the position", mark{last: 0, first: 51, upTo: 90}, 50, true},
		{"a message after the position", mark{last: 60, first: 5, upTo: 90}, 50, false},
		{"channel emptied, front past the position", mark{last: 0, first: 52, upTo: 90}, 50, false},
		{"position at the stream's end", mark{last: 10, first: 5, upTo: 50}, 50, false},
		{"position ahead of the snapshot", mark{last: 10, first: 5, upTo: 40}, 50, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.proves(tt.p); got != tt.want {
				t.Fatalf("%+v proves(%d) = %v, want %v", tt.m, tt.p, got, tt.want)
			}
		})
	}
}

// TestReadLasts: one multi-last read answers each channel's last stored
// sequence (none for an empty one) and the stream's last sequence.
func TestReadLasts(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	a := publishN(t, h, "a", 3)
	b := publishN(t, h, "b", 2)
	ml, err := h.readLasts(ctxT(t), []string{"a", "b", "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if ml.truncated || ml.upTo != b[1] || ml.last["a"] != a[2] || ml.last["b"] != b[1] || len(ml.last) != 2 {
		t.Fatalf("read %+v; want a at %d, b at %d, up to %d", ml, a[2], b[1], b[1])
	}
	ml, err = h.readLasts(ctxT(t), []string{"empty"})
	if err != nil || len(ml.last) != 0 || ml.truncated {
		t.Fatalf("empty channel: %+v %v", ml, err)
	}
}

// TestQuietPositionsFollowTheStream: busy channels turn the byte-limited
// stream over many times; the subscribers of a quiet channel (its old
// messages evicted) and of an empty one get pos frames that keep their
// positions in the newer half of the stream, so a resume from them after
// the quiet channel's messages left retention is recovered, with every
// message after it. A position that was not moved is answered
// recovered:false.
func TestQuietPositionsFollowTheStream(t *testing.T) {
	s := natstest.Start(t)
	_, js := s.JetStream()
	st := limitStream(t, js, 64<<10)
	h := newHub(t, s, Config{MarkEvery: 20 * time.Millisecond})
	quiet, empty := newSub(100000), newSub(100000)
	if _, err := h.Subscribe(ctxT(t), "quiet", quiet, nil); err != nil {
		t.Fatal(err)
	}
	old := publishN(t, h, "quiet", 3)
	waitSeqs(t, quiet, old)
	if _, err := h.Subscribe(ctxT(t), "empty", empty, nil); err != nil {
		t.Fatal(err)
	}
	pad := `{"pad":"` + strings.Repeat("x", 1000) + `"}`
	for round := 0; ; round++ {
		for range 8 { // an eighth of the stream's bytes
			if _, _, err := h.Publish(ctxT(t), "", "busy", []byte(pad), ""); err != nil {
				t.Fatal(err)
			}
		}
		info, err := st.Info(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		half := info.State.FirstSeq + (info.State.LastSeq-info.State.FirstSeq)/2
		natstest.Eventually(t, 10*time.Second, func() bool { return quiet.position() > half && empty.position() > half },
			"round %d: positions %d and %d not moved past the stream's middle %d", round, quiet.position(), empty.position(), half)
		if info.State.FirstSeq > old[2]+64 { // the quiet channel's messages are long gone
			break
		}
	}
	quiet.checkBad(t)
	empty.checkBad(t)
	if quiet.markCount() == 0 || empty.markCount() == 0 {
		t.Fatalf("pos frames: quiet %d, empty %d", quiet.markCount(), empty.markCount())
	}
	for _, tc := range []struct {
		ch  string
		sub *testSub
	}{{"quiet", quiet}, {"empty", empty}} {
		since := tc.sub.position()
		more := publishN(t, h, tc.ch, 4)
		again := newSub(100000)
		res, err := h.Subscribe(ctxT(t), tc.ch, again, ptr(since))
		if err != nil || !res.Recovered || res.Seq != more[3] {
			t.Fatalf("%s: resume from its moved position %d: %+v %v; want recovered up to %d", tc.ch, since, res, err, more[3])
		}
		checkSeqs(t, again.seqs(), more)
		again.checkBad(t)
	}
	// The quiet channel's position before the marks: its messages after
	// it are still stored, but the front of the stream passed it.
	stale := newSub(100000)
	res, err := h.Subscribe(ctxT(t), "quiet", stale, ptr(old[2]))
	if err != nil || res.Recovered {
		t.Fatalf("resume from an evicted position %d: %+v %v; want recovered:false", old[2], res, err)
	}
}

// limitStream keeps the channel stream under maxBytes, oldest first.
func limitStream(t *testing.T, js jetstream.JetStream, maxBytes int64) jetstream.Stream {
	t.Helper()
	st, err := js.Stream(ctxT(t), events.StreamChannels)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxBytes, cfg.Discard = maxBytes, jetstream.DiscardOld
	if _, err := js.UpdateStream(ctxT(t), cfg); err != nil {
		t.Fatal(err)
	}
	return st
}
