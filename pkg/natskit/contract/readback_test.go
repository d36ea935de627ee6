package contract_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// TestReadBack reads a stream newest first across windows, past deleted
// messages, and stops where it is told to.
func TestReadBack(t *testing.T) {
	s := natstest.Start(t)
	_, js := s.JetStream()
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RB", Subjects: []string{"rb.>"}})
	if err != nil {
		t.Fatal(err)
	}
	read := func(window, maxScan, stopAt int) []int {
		t.Helper()
		var got []int
		err := events.ReadBack(ctx, js, "RB", window, maxScan, func(seq uint64, data []byte) bool {
			n, err := strconv.Atoi(string(data))
			if err != nil || uint64(n) != seq {
				t.Fatalf("message %q at sequence %d", data, seq)
			}
			got = append(got, n)
			return len(got) < stopAt
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(10, 100, 100); len(got) != 0 {
		t.Fatalf("empty stream: read %v", got)
	}
	for i := 1; i <= 25; i++ {
		if _, err := js.Publish(ctx, fmt.Sprintf("rb.%d", i%3), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []uint64{1, 10, 11, 20, 25} {
		if err := st.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	want := []int{24, 23, 22, 21, 19, 18, 17, 16, 15, 14, 13, 12, 9, 8, 7, 6, 5, 4, 3, 2}
	for _, window := range []int{1, 4, 10, 100} {
		if got := read(window, 100, 100); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("window %d: read %v, want %v", window, got, want)
		}
	}
	if got := read(4, 100, 3); fmt.Sprint(got) != fmt.Sprint(want[:3]) {
		t.Errorf("stop after 3: read %v", got)
	}
	if got := read(7, 5, 100); fmt.Sprint(got) != fmt.Sprint(want[:5]) {
		t.Errorf("scan at most 5: read %v", got)
	}
	if err := events.ReadBack(ctx, js, "NONE", 10, 10, func(uint64, []byte) bool { return true }); err == nil {
		t.Error("a missing stream: no error")
	}
}
