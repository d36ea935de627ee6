package gateway

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestResumeAfterNodeKill: a subscriber on node A loses A to a crash (no
// close frames) while a publisher on node B keeps publishing; it resumes
// on B from its last sequence and sees every message exactly once, in
// order.
func TestResumeAfterNodeKill(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, testConfig(ns, "gw-a"))
	b := startNode(t, testConfig(ns, "gw-b"))
	const total = 300

	sub := dial(t, a.URL())
	if f := sub.reply(sub.send(frame.Client{Op: frame.OpSubscribe, Channel: "ticker"}), nil); f.Op != frame.OpReply {
		t.Fatalf("subscribe = %+v", f)
	}
	pub := dial(t, b.URL())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // publishes throughout, through the surviving node
		defer wg.Done()
		for i := range total {
			data, _ := json.Marshal(map[string]int{"n": i})
			f := pub.reply(pub.send(frame.Client{Op: frame.OpPublish, Channel: "ticker", Data: data, Idem: fmt.Sprint("p-", i)}), nil)
			if f.Op != frame.OpReply {
				t.Errorf("publish %d = %+v", i, f)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	var got []frame.Server
	for len(got) < 50 {
		got = append(got, sub.expect(frame.OpMessage))
	}
	a.Kill()
	sub.waitClosed(10 * time.Second)
	for len(sub.frames) > 0 { // frames read before the crash
		if f := <-sub.frames; f.Op == frame.OpMessage {
			got = append(got, f)
		}
	}
	last := got[len(got)-1].Seq

	again := dial(t, b.URL())
	res := again.reply(again.send(frame.Client{Op: frame.OpSubscribe, Channel: "ticker", Since: &last}), &got)
	if res.Op != frame.OpReply || res.Recovered == nil || !*res.Recovered {
		t.Fatalf("resume reply = %+v", res)
	}
	deadline := time.After(30 * time.Second)
	for len(got) < total {
		select {
		case f := <-again.frames:
			if f.Op == frame.OpMessage {
				got = append(got, f)
			}
		case <-deadline:
			t.Fatalf("received %d of %d", len(got), total)
		}
	}
	wg.Wait()
	checkSequence(t, got, total)
}

// checkSequence asserts messages n = 0..total-1, each once, in order, with
// increasing sequences.
func checkSequence(t *testing.T, got []frame.Server, total int) {
	t.Helper()
	if len(got) != total {
		t.Fatalf("received %d messages, want %d", len(got), total)
	}
	for i, f := range got {
		var m struct{ N int }
		if err := json.Unmarshal(f.Data, &m); err != nil {
			t.Fatalf("msg %d: %v", i, err)
		}
		if m.N != i {
			t.Fatalf("message %d carries n=%d: lost or duplicated around seq %d", i, m.N, f.Seq)
		}
		if i > 0 && f.Seq <= got[i-1].Seq {
			t.Fatalf("seq %d after %d", f.Seq, got[i-1].Seq)
		}
	}
}
