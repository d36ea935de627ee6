package channel

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

func TestResumeFromStream(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{PageSize: 7})
	live := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "chat", live, nil); err != nil {
		t.Fatal(err)
	}
	seqs := publishN(t, h, "chat", 20)
	publishN(t, h, "noise", 3)
	waitSeqs(t, live, seqs)
	tests := []struct {
		name  string
		since uint64
		want  []uint64
	}{
		{"middle", seqs[9], seqs[10:]},
		{"up to date", seqs[19], nil},
		{"from the start", seqs[0] - 1, seqs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newSub(1000)
			res, err := h.Subscribe(ctxT(t), "chat", sub, ptr(tt.since))
			if err != nil || !res.Recovered || res.Replayed != len(tt.want) || res.Epoch == "" {
				t.Fatalf("subscribe: %+v %v", res, err)
			}
			if res.Seq != seqs[19] {
				t.Fatalf("Seq = %d", res.Seq)
			}
			checkSeqs(t, sub.seqs(), tt.want)
			h.Unsubscribe("chat", sub)
		})
	}
}

// TestResumeNotRecovered: a position of another epoch or from the future
// answers recovered:false at once, with no replay, and the live flow
// follows from the reply's seq.
func TestResumeNotRecovered(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	seqs := publishN(t, h, "pos", 5)
	ss, err := h.StreamStats(ctxT(t))
	if err != nil || ss.Epoch == "" || h.Epoch() != ss.Epoch {
		t.Fatalf("stream stats %+v %v, epoch %q", ss, err, h.Epoch())
	}
	epoch := ss.Epoch
	tests := []struct {
		name  string
		since Position
		want  bool
	}{
		{"same epoch", Position{Seq: seqs[1], Epoch: epoch}, true},
		{"no epoch (v1 client)", Position{Seq: seqs[1]}, true},
		{"other epoch", Position{Seq: seqs[1], Epoch: "other"}, false},
		{"ahead of the stream", Position{Seq: seqs[4] + 10}, false},
		{"ahead, same epoch", Position{Seq: 1 << 40, Epoch: epoch}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newSub(1000)
			res, err := h.Subscribe(ctxT(t), "pos", sub, &tt.since)
			if err != nil || res.Recovered != tt.want || res.Epoch != epoch || res.Seq != seqs[len(seqs)-1] {
				t.Fatalf("subscribe: %+v %v", res, err)
			}
			var want []uint64
			if tt.want {
				want = append(want, seqs[2:]...)
			}
			checkSeqs(t, sub.seqs(), want)
			more := publishN(t, h, "pos", 1)
			waitSeqs(t, sub, append(want, more...))
			h.Unsubscribe("pos", sub)
			seqs = append(seqs, more...)
		})
	}
}

func TestResumeAheadSkipsKnown(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{})
	live := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "a", live, nil); err != nil {
		t.Fatal(err)
	}
	// Another node acknowledged these to the client; this node may not
	// have seen them yet when the client resumes after the last one.
	_, js := s.JetStream()
	var acked []uint64
	for range 5 {
		ack, err := js.Publish(ctxT(t), events.ChannelSubject("a"), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, ack.Sequence)
	}
	sub := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "a", sub, ptr(acked[4])); err != nil {
		t.Fatal(err)
	}
	more := publishN(t, h, "a", 3)
	waitSeqs(t, live, append(acked, more...))
	waitSeqs(t, sub, more)
}

func TestResumeFreshNode(t *testing.T) {
	s := natstest.Start(t)
	writer := newHub(t, s, Config{})
	publishN(t, writer, "noise", 5)
	seqs := publishN(t, writer, "ticks", 30)
	publishN(t, writer, "noise", 5)
	h := newHub(t, s, Config{PageSize: 4})
	sub := newSub(1000)
	res, err := h.Subscribe(ctxT(t), "ticks", sub, ptr(seqs[5]))
	if err != nil || !res.Recovered || res.Replayed != 24 {
		t.Fatalf("subscribe: %+v %v", res, err)
	}
	checkSeqs(t, sub.seqs(), seqs[6:])
	sub.checkBad(t)
	if st := h.Stats(); st.PageReads < 6 {
		t.Fatalf("%d page reads for 24 messages in pages of 4", st.PageReads)
	}
	more := publishN(t, writer, "ticks", 3)
	waitSeqs(t, sub, append(seqs[6:], more...))
}

func TestResumeBeyondRetention(t *testing.T) {
	tests := []struct {
		name   string
		remove func(t *testing.T, js jetstream.JetStream, st jetstream.Stream, seqs []uint64)
		since  func(seqs []uint64) uint64
		cfg    Config
		want   bool
	}{
		{"nothing removed", func(*testing.T, jetstream.JetStream, jetstream.Stream, []uint64) {}, func(s []uint64) uint64 { return s[2] }, Config{}, true},
		{"stream purged", func(t *testing.T, _ jetstream.JetStream, st jetstream.Stream, _ []uint64) {
			if err := st.Purge(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		}, func(s []uint64) uint64 { return s[2] }, Config{}, false},
		{"front removed", func(t *testing.T, js jetstream.JetStream, st jetstream.Stream, seqs []uint64) {
			if err := st.Purge(ctxT(t), jetstream.WithPurgeSequence(seqs[5])); err != nil {
				t.Fatal(err)
			}
		}, func(s []uint64) uint64 { return s[2] }, Config{}, false},
		{"front removed, since after it", func(t *testing.T, js jetstream.JetStream, st jetstream.Stream, seqs []uint64) {
			if err := st.Purge(ctxT(t), jetstream.WithPurgeSequence(seqs[5])); err != nil {
				t.Fatal(err)
			}
		}, func(s []uint64) uint64 { return s[4] }, Config{}, true},
		{"aged out (MaxAge)", func(t *testing.T, js jetstream.JetStream, st jetstream.Stream, seqs []uint64) {
			cfg := st.CachedInfo().Config
			cfg.MaxAge, cfg.Duplicates = time.Second, time.Second
			if _, err := js.UpdateStream(ctxT(t), cfg); err != nil {
				t.Fatal(err)
			}
			natstest.Eventually(t, 10*time.Second, func() bool {
				info, err := st.Info(ctxT(t))
				return err == nil && info.State.FirstSeq > seqs[3]
			}, "messages did not age out")
		}, func(s []uint64) uint64 { return s[2] }, Config{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := natstest.Start(t)
			_, js := s.JetStream()
			st, err := js.Stream(ctxT(t), events.StreamChannels)
			if err != nil {
				t.Fatal(err)
			}
			writer := newHub(t, s, tt.cfg)
			seqs := publishN(t, writer, "hist", 12)
			tt.remove(t, js, st, seqs)
			h := newHub(t, s, tt.cfg)
			since := tt.since(seqs)
			sub := newSub(1000)
			res, err := h.Subscribe(ctxT(t), "hist", sub, ptr(since))
			if err != nil {
				t.Fatal(err)
			}
			if res.Recovered != tt.want {
				t.Fatalf("recovered = %v, want %v (%+v)", res.Recovered, tt.want, res)
			}
			var want []uint64
			if tt.want {
				for _, q := range seqs {
					if q > since {
						want = append(want, q)
					}
				}
			}
			checkSeqs(t, sub.seqs(), want)
			if res.Replayed != len(want) {
				t.Fatalf("Replayed = %d, want %d", res.Replayed, len(want))
			}
			// Live messages follow either way.
			more := publishN(t, writer, "hist", 2)
			waitSeqs(t, sub, append(want, more...))
		})
	}
}

// stopAtSub is a testSub that runs stop (once) when it has received n
// messages: a NATS outage that begins between two pages of its replay.
type stopAtSub struct {
	*testSub
	n    int
	stop func()
	once sync.Once
}

func (s *stopAtSub) Deliver(b []byte) bool {
	ok := s.testSub.Deliver(b)
	if s.count() == s.n {
		s.once.Do(s.stop)
	}
	return ok
}

// TestReplayRetriesLostPageRead stops NATS right after a replay's first
// page: the next page read times out, and the replay must read it again
// once NATS is back instead of ending the resume at the page boundary.
func TestReplayRetriesLostPageRead(t *testing.T) {
	s := natstest.Start(t)
	const pageSize = 8
	h := newHub(t, s, Config{PageSize: pageSize, FetchTimeout: 300 * time.Millisecond})
	seqs := publishN(t, h, "gap", 5*pageSize)
	// The first page holds back its last message: the outage starts
	// once the other pageSize-1 are delivered.
	sub := &stopAtSub{testSub: newSub(1000), n: pageSize - 1, stop: s.Stop}
	type answer struct {
		res SubscribeResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := h.Subscribe(context.Background(), "gap", sub, ptr(seqs[0]-1))
		done <- answer{res, err}
	}()
	// NATS comes back once the replay has seen a page read fail; a
	// replay that gives up instead answers first.
	var a answer
	var answered bool
	natstest.Eventually(t, 30*time.Second, func() bool {
		select {
		case a = <-done:
			answered = true
			return true
		default:
		}
		return h.Stats().ReplayRetries > 0
	}, "the replay neither answered nor retried a page read")
	if answered {
		s.Restart()
		t.Fatalf("resume ended at the outage: %+v %v (page reads %d)", a.res, a.err, h.Stats().PageReads)
	}
	s.Restart()
	select {
	case a = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the replay did not finish after NATS came back")
	}
	if a.err != nil || !a.res.Recovered {
		t.Fatalf("resume across the outage: %+v %v", a.res, a.err)
	}
	checkSeqs(t, sub.seqs(), seqs)
	sub.checkBad(t)
	t.Logf("%d page reads, %d retried", h.Stats().PageReads, h.Stats().ReplayRetries)
}
