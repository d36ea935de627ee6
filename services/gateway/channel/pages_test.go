package channel

import (
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestResumeStormSharesPages: many clients of one channel resuming from
// the same position at once (a node restarted under them) take their
// pages from a few direct gets, and each gets the whole gap in order.
func TestResumeStormSharesPages(t *testing.T) {
	s := natstest.Start(t)
	h := newHub(t, s, Config{PageSize: 8})
	seqs := publishN(t, h, "storm", 30)
	const clients = 60
	subs := make([]*testSub, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range subs {
		subs[i] = newSub(1000)
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.Subscribe(ctxT(t), "storm", subs[i], ptr(seqs[4]))
			if err == nil && (!res.Recovered || res.Replayed != 25) {
				t.Errorf("client %d: %+v", i, res)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range subs {
		checkSeqs(t, sub.seqs(), seqs[5:])
	}
	st := h.Stats()
	// 25 messages are 4 pages of 8 (each holding its last back): one
	// client alone would read 4; 60 without sharing, 240.
	if st.PageShares == 0 || st.PageReads >= clients {
		t.Fatalf("%d page reads and %d shared for %d resumes of one position", st.PageReads, st.PageShares, clients)
	}
	t.Logf("%d resumes: %d page reads, %d shared", clients, st.PageReads, st.PageShares)

	// A later resume from there, after the reuse window, reads again.
	before := h.Stats().PageReads
	sub := newSub(1000)
	natstest.Eventually(t, 5*time.Second, func() bool { // past the reuse window: forgotten
		h.pages.mu.Lock()
		defer h.pages.mu.Unlock()
		return len(h.pages.calls) == 0 && h.pages.bytes == 0
	}, "shared pages forgotten after %s", pageReuse)
	if _, err := h.Subscribe(ctxT(t), "storm", sub, ptr(seqs[4])); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, sub.seqs(), seqs[5:])
	if h.Stats().PageReads == before {
		t.Fatal("a resume after the reuse window read no page")
	}
	// New messages after a shared page are not missed by a late resume.
	more := publishN(t, h, "storm", 3)
	late := newSub(1000)
	if _, err := h.Subscribe(ctxT(t), "storm", late, ptr(seqs[4])); err != nil {
		t.Fatal(err)
	}
	waitSeqs(t, late, append(append([]uint64(nil), seqs[5:]...), more...))
}
