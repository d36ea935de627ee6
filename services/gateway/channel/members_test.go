package channel

import (
	"testing"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// TestMembers: removal swaps in place and keeps the index right; a fan-out
// reaches exactly the members left, each once.
func TestMembers(t *testing.T) {
	tests := []struct {
		name   string
		remove []int
	}{
		{"none", nil},
		{"first", []int{0}},
		{"last", []int{4}},
		{"middle", []int{2}},
		{"all", []int{0, 1, 2, 3, 4}},
		{"twice", []int{3, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTopic(&Hub{}, "m")
			subs := make([]*testSub, 5)
			for i := range subs {
				subs[i] = newSub(10)
				tp.mu.Lock()
				tp.addLocked(subs[i], 0)
				tp.mu.Unlock()
			}
			gone := map[int]bool{}
			for _, i := range tt.remove {
				if got := tp.remove(subs[i]); got == gone[i] {
					t.Fatalf("remove %d = %v, already gone %v", i, got, gone[i])
				}
				gone[i] = true
			}
			for s, i := range tp.joined {
				if tp.members[i].sub != s {
					t.Fatalf("index of %p is %d, holding %p", s, i, tp.members[i].sub)
				}
			}
			f := frame.AppendMessage(nil, "m", 1, []byte(`1`))
			tp.deliver(tp.members, []uint64{1}, [][]byte{f})
			for i, s := range subs {
				want := 1
				if gone[i] {
					want = 0
				}
				if s.count() != want {
					t.Fatalf("subscriber %d got %d frames, want %d", i, s.count(), want)
				}
			}
			if int(tp.hub.subscribers.Load()) != len(subs)-len(gone) {
				t.Fatalf("gauge %d", tp.hub.subscribers.Load())
			}
		})
	}
}
