package pool

import (
	"cmp"
	"context"
	"runtime/metrics"
	"slices"
	"time"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
)

// Shares of Limits.MemoryLimit at which the pool sheds work: past
// admitShare new upgrades are refused with ErrMemory; past shedShare the
// connections holding the most queued bytes are closed as slow consumers
// until the queues hold less than a tenth of the budget.
const (
	admitShare = 0.8
	shedShare  = 0.9
	// budgetPeriod is how often the runtime's memory is read.
	budgetPeriod = 200 * time.Millisecond
	// shedBatch is the most connections closed per reading.
	shedBatch = 64
)

// memorySamples are the runtime metrics the budget reads: the memory the
// Go runtime has mapped minus what it gave back to the OS, the figure
// runtime/debug.SetMemoryLimit bounds.
var memorySamples = []metrics.Sample{
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
}

// readMemory returns the runtime's memory in use, in bytes.
func readMemory() int64 {
	s := slices.Clone(memorySamples)
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// Memory is the last reading of the runtime's memory in bytes (0 while no
// budget is set).
func (p *Pool) Memory() int64 { return p.memory.Load() }

// overBudget reports whether the last reading is past share of the budget.
func (p *Pool) overBudget(share float64) bool {
	limit := p.cfg.MemoryLimit
	return limit > 0 && float64(p.memory.Load()) > share*float64(limit)
}

// runBudget reads the runtime's memory until ctx ends and sheds the
// largest send queues while it is past shedShare of the budget.
func (p *Pool) runBudget(ctx context.Context) {
	if p.cfg.MemoryLimit <= 0 {
		return
	}
	t := time.NewTicker(budgetPeriod)
	defer t.Stop()
	for {
		p.memory.Store(readMemory())
		if p.overBudget(shedShare) {
			p.shed()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// shed closes the connections with the most bytes queued, largest first,
// until the queues left hold less than a tenth of the budget.
func (p *Pool) shed() {
	keep := int64(p.cfg.MemoryLimit) / 10
	if p.backlogBytes.Load() <= keep {
		return
	}
	conns := p.Conns(func(c *Conn) bool { return c.Queued() > 0 })
	slices.SortFunc(conns, func(a, b *Conn) int { return cmp.Compare(b.Queued(), a.Queued()) })
	left := p.backlogBytes.Load()
	for i, c := range conns {
		if i == shedBatch || left <= keep {
			break
		}
		left -= c.Queued()
		if c.Close(frame.CloseSlow, events.CauseSlow, "node memory budget exceeded") {
			p.stats.slow.Add(1)
			p.stats.shed.Add(1)
			p.notable(events.ConnSlowConsumer, c, "node memory budget exceeded")
		}
	}
}
