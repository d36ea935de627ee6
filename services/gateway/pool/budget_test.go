package pool

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// TestMemoryBudgetSheds: past the budget new upgrades are refused with
// ErrMemory and the connection holding the most queued bytes is closed as
// a slow consumer, while a connection with an empty queue stays.
func TestMemoryBudgetSheds(t *testing.T) {
	runtime.GC()
	limit := readMemory() + 96<<20
	p, h, url := startHostile(t, Config{SendQueue: 1 << 20, SendQueueBytes: 1 << 40, MemoryLimit: limit})
	dialPeer(t, url, true, false) // never reads: its queue grows
	hog := h.conn(t)
	dialPeer(t, url, true, true)
	quiet := h.conn(t)
	big := bytes.Repeat([]byte("x"), 60000)
	for range 400 { // 24 MB queued, sharing one slice
		if !hog.Send(big) {
			t.Fatal("send refused before the budget was passed")
		}
	}
	if _, err := p.Admit(); err != nil {
		t.Fatalf("admission refused under the budget: %v", err)
	}
	p.Release()
	ballast := make([]byte, 128<<20) // pushes the process past the budget
	for i := range ballast {
		ballast[i] = 1
	}
	eventually(t, func() bool { return p.Totals().Shed > 0 && hog.Closing() }, "the largest queue shed")
	if _, err := p.Admit(); !errors.Is(err, ErrMemory) {
		t.Fatalf("admission past the budget: %v, want ErrMemory", err)
	}
	if quiet.Closing() {
		t.Fatal("a connection with nothing queued was shed")
	}
	runtime.KeepAlive(ballast)
}
