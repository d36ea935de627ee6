package channel

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/natstest"
)

func TestResumeFromMemory(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{HistorySize: 64})
	live := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "chat", live, nil); err != nil {
		t.Fatal(err)
	}
	seqs := publishN(t, h, "chat", 20)
	waitSeqs(t, live, seqs)
	tests := []struct {
		name  string
		since uint64
		want  []uint64
	}{
		{"middle", seqs[9], seqs[10:]},
		{"up to date", seqs[19], nil},
		{"start of the history", seqs[0] - 1, seqs},
		{"ahead of the node", seqs[19] + 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newSub(1000)
			res, err := h.Subscribe(ctxT(t), "chat", sub, ptr(tt.since))
			if err != nil || !res.Recovered || res.Replayed != len(tt.want) {
				t.Fatalf("subscribe: %+v %v", res, err)
			}
			if res.Seq != max(seqs[19], tt.since) {
				t.Fatalf("Seq = %d", res.Seq)
			}
			checkSeqs(t, sub.seqs(), tt.want)
			h.Unsubscribe("chat", sub)
		})
	}
	if st := h.Stats(); st.Fetches != 0 {
		t.Fatalf("%d JetStream replays, want all from memory", st.Fetches)
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

func TestResumeFromJetStream(t *testing.T) {
	tests := []struct {
		name  string
		fresh bool // the node starts the channel after the messages
	}{
		{"gap older than the history", false},
		{"fresh node", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := natstest.Start(t)
			h := newHub(t, s, Config{HistorySize: 4})
			live := newSub(1000)
			if !tt.fresh {
				if _, err := h.Subscribe(ctxT(t), "ticks", live, nil); err != nil {
					t.Fatal(err)
				}
			}
			publishN(t, h, "noise", 5)
			seqs := publishN(t, h, "ticks", 30)
			publishN(t, h, "noise", 5)
			if !tt.fresh {
				waitSeqs(t, live, seqs)
			}
			sub := newSub(1000)
			res, err := h.Subscribe(ctxT(t), "ticks", sub, ptr(seqs[5]))
			if err != nil || !res.Recovered || res.Replayed != 24 {
				t.Fatalf("subscribe: %+v %v", res, err)
			}
			checkSeqs(t, sub.seqs(), seqs[6:])
			sub.checkBad(t)
			if st := h.Stats(); st.Fetches != 1 {
				t.Fatalf("%d JetStream replays, want 1", st.Fetches)
			}
			// The replay joined the history: the next deep resume is served
			// from memory.
			again := newSub(1000)
			if _, err := h.Subscribe(ctxT(t), "ticks", again, ptr(seqs[10])); err != nil {
				t.Fatal(err)
			}
			checkSeqs(t, again.seqs(), seqs[11:])
			if st := h.Stats(); st.Fetches != 1 {
				t.Fatalf("%d JetStream replays, want 1", st.Fetches)
			}
			more := publishN(t, h, "ticks", 3)
			waitSeqs(t, sub, append(seqs[6:], more...))
		})
	}
}

func TestResumeSharedReplay(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{HistorySize: 8})
	seqs := publishN(t, h, "storm", 200)
	subs := make([]*testSub, 50)
	var wg sync.WaitGroup
	errs := make(chan error, len(subs))
	for i := range subs {
		subs[i] = newSub(1000)
		wg.Go(func() {
			res, err := h.Subscribe(ctxT(t), "storm", subs[i], ptr(seqs[99]))
			if err == nil && (!res.Recovered || res.Replayed != 100) {
				t.Errorf("subscribe %d: %+v", i, res)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range subs {
		checkSeqs(t, sub.seqs(), seqs[100:])
	}
	if st := h.Stats(); st.Fetches != 1 {
		t.Fatalf("%d JetStream replays for 50 identical resumes, want 1", st.Fetches)
	}
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
		{"message deleted in the gap", func(t *testing.T, js jetstream.JetStream, st jetstream.Stream, seqs []uint64) {
			if err := st.DeleteMsg(ctxT(t), seqs[6]); err != nil {
				t.Fatal(err)
			}
		}, func(s []uint64) uint64 { return s[2] }, Config{}, false},
		{"more than MaxReplay", func(*testing.T, jetstream.JetStream, jetstream.Stream, []uint64) {}, func(s []uint64) uint64 { return s[0] }, Config{MaxReplay: 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := natstest.Start(t)
			_, js := s.JetStream()
			st, err := js.Stream(ctxT(t), events.StreamChannels)
			if err != nil {
				t.Fatal(err)
			}
			tt.cfg.HistorySize = 2
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

// TestResumeStormDistinctPositions: resumes at many different positions
// arriving together cost at most two JetStream replays: the first
// arrival's, then one from the deepest position waiting.
func TestResumeStormDistinctPositions(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{HistorySize: 8})
	seqs := publishN(t, h, "storm", 300)
	const clients = 40
	var once sync.Once
	started := make(chan struct{})
	h.fetchHook = func(uint64) {
		// Hold the first replay until every other resume waits for it.
		once.Do(func() {
			close(started)
			for deadline := time.Now().Add(10 * time.Second); waiting(h, "storm") < clients-1; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Errorf("only %d resumes wait for the first replay", waiting(h, "storm"))
					return
				}
			}
		})
	}
	subs := make([]*testSub, clients)
	var wg sync.WaitGroup
	join := func(i int) {
		subs[i] = newSub(1000)
		wg.Go(func() {
			res, err := h.Subscribe(ctxT(t), "storm", subs[i], ptr(seqs[100+i*3]))
			if err != nil || !res.Recovered {
				t.Errorf("subscribe %d: %+v %v", i, res, err)
			}
		})
	}
	// The least deep resume comes first: alone, it would leave every
	// other one a replay of its own.
	join(clients - 1)
	<-started
	for i := clients - 2; i >= 0; i-- {
		join(i)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, sub := range subs {
		checkSeqs(t, sub.seqs(), seqs[101+i*3:])
	}
	if st := h.Stats(); st.Fetches > 2 {
		t.Fatalf("%d JetStream replays for %d resumes, want at most 2", st.Fetches, clients)
	}
}

// waiting counts the resumes of ch registered for a replay.
func waiting(h *Hub, ch string) int {
	h.mu.Lock()
	tp := h.channels[ch]
	h.mu.Unlock()
	if tp == nil {
		return 0
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	n := 0
	for _, c := range tp.waiters {
		n += c
	}
	return n
}

// TestResumeOutrunByLiveTraffic: when live traffic pushes the history past
// its bound while a replay runs, the replay is not joined with a hole; the
// resume looks again and answers from the new state.
func TestResumeOutrunByLiveTraffic(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{HistorySize: 2, MaxReplay: 5})
	live := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "fast", live, nil); err != nil {
		t.Fatal(err)
	}
	seqs := publishN(t, h, "fast", 10)
	waitSeqs(t, live, seqs)
	var once sync.Once
	h.fetchHook = func(uint64) {
		once.Do(func() {
			// More than 2*(HistorySize+MaxReplay) arrive during the replay.
			seqs = append(seqs, publishN(t, h, "fast", 20)...)
			waitSeqs(t, live, seqs)
		})
	}
	sub := newSub(1000)
	res, err := h.Subscribe(ctxT(t), "fast", sub, ptr(seqs[5]))
	if err != nil {
		t.Fatal(err)
	}
	// 24 messages follow since now: more than MaxReplay.
	if res.Recovered || res.Replayed != 0 || sub.count() != 0 || res.Seq != seqs[29] {
		t.Fatalf("resume: %+v, %d messages", res, sub.count())
	}
	if st := h.Stats(); st.Fetches != 2 {
		t.Fatalf("%d replays, want 2 (the outrun one and the retry)", st.Fetches)
	}
	more := publishN(t, h, "fast", 1)
	waitSeqs(t, sub, more)
}

// TestResumeRemovedDuringReplay: messages removed from the stream while a
// replay reads it make the answer Recovered=false: the replay cannot tell
// what it missed, so it never claims a full recovery.
func TestResumeRemovedDuringReplay(t *testing.T) {
	s := natstest.Start(t)
	_, js := s.JetStream()
	h := newHub(t, s, Config{HistorySize: 2})
	seqs := publishN(t, h, "gone", 10)
	h.fetchHook = func(uint64) {
		st, err := js.Stream(ctxT(t), events.StreamChannels)
		if err == nil {
			err = st.Purge(ctxT(t), jetstream.WithPurgeSequence(seqs[4]))
		}
		if err != nil {
			t.Error(err)
		}
	}
	sub := newSub(100)
	res, err := h.Subscribe(ctxT(t), "gone", sub, ptr(seqs[1]))
	if err != nil || res.Recovered || sub.count() != 0 {
		t.Fatalf("resume: %+v %v, %d messages", res, err, sub.count())
	}
}
