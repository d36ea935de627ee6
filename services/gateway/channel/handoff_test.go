package channel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// acked collects the sequences publishers were acknowledged with.
type acked struct {
	mu   sync.Mutex
	seqs []uint64
}

func (a *acked) add(seq uint64) {
	a.mu.Lock()
	a.seqs = append(a.seqs, seq)
	a.mu.Unlock()
}

// pick returns one acknowledged sequence at random (0 if none yet).
func (a *acked) pick() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seqs) == 0 {
		return 0
	}
	return a.seqs[rand.IntN(len(a.seqs))]
}

func (a *acked) after(since uint64) []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []uint64
	for _, s := range a.seqs {
		if s > since {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

type resumed struct {
	sub   *testSub
	since uint64
	res   SubscribeResult
}

// TestResumeDuringPublish resumes subscribers at random positions, on a
// node that has the channel running and on one that starts it meanwhile,
// while publishers keep writing: every subscriber must get exactly the
// messages after its position, in order.
func TestResumeDuringPublish(t *testing.T) {
	s := natstest.Start(t)
	cfg := Config{PageSize: 16}
	writer := newHub(t, s, cfg)
	nodes := []*Hub{newHub(t, s, cfg), newHub(t, s, cfg)}
	baseline := newSub(100000)
	if _, err := nodes[0].Subscribe(ctxT(t), "hot", baseline, nil); err != nil {
		t.Fatal(err)
	}
	var log acked
	var pubs sync.WaitGroup
	const publishers, perPublisher = 4, 200
	for p := range publishers {
		pubs.Go(func() {
			for i := range perPublisher {
				seq, _, err := writer.Publish(ctxT(t), "", "hot", fmt.Appendf(nil, `{"p":%d,"i":%d}`, p, i), "")
				if err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				log.add(seq)
				if i%10 == 0 {
					_, _, _ = writer.Publish(ctxT(t), "", "cold", []byte(`{}`), "")
				}
			}
		})
	}
	var mu sync.Mutex
	var all []resumed
	var joins sync.WaitGroup
	for r := range 60 {
		joins.Go(func() {
			time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
			since := log.pick()
			// Half take runs (Batcher), as connections do.
			sub, as := newSub(100000), Subscriber(nil)
			if r%4 < 2 {
				as = sub
			} else {
				as = &runSub{testSub: sub}
			}
			res, err := nodes[r%2].Subscribe(ctxT(t), "hot", as, ptr(since))
			if err != nil {
				t.Errorf("subscribe since %d: %v", since, err)
				return
			}
			if !res.Recovered {
				t.Errorf("subscribe since %d: not recovered %+v", since, res)
			}
			mu.Lock()
			all = append(all, resumed{sub, since, res})
			mu.Unlock()
		})
	}
	pubs.Wait()
	joins.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitSeqs(t, baseline, log.after(0))
	var memory, deep int
	for _, r := range all {
		waitSeqs(t, r.sub, log.after(r.since))
		r.sub.checkBad(t)
		if r.res.Replayed > cfg.PageSize {
			deep++
		} else {
			memory++
		}
	}
	st := [2]Stats{nodes[0].Stats(), nodes[1].Stats()}
	t.Logf("%d resumes: %d of one page, %d longer; page reads %d+%d", len(all), memory, deep, st[0].PageReads, st[1].PageReads)
	if deep == 0 {
		t.Fatal("no resume took more than one page; the test does not cover that path")
	}
}
