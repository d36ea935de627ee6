package bench

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// Load is a benchmark that publishes until Stop: the steady background
// traffic of a chaos scenario. Snapshot reads its counters live, so that
// a caller can watch clients leave a node, come back and catch up.
type Load struct {
	r        *run
	start    time.Time
	pubStart time.Time
	cancel   context.CancelFunc
	done     chan struct{}
	stopProg func()
	once     sync.Once
	rep      *Report
}

// Snapshot is a Load's state at one moment.
type Snapshot struct {
	Time time.Time `json:"time"`
	// Conns is the connections the load holds (subscribers that connected
	// and subscribed, and publishers); Live is how many are connected now.
	Conns   int            `json:"conns"`
	Live    int            `json:"live"`
	PerNode map[string]int `json:"per_node"`

	Sent       uint64 `json:"sent"`
	Expected   uint64 `json:"expected_deliveries"`
	Delivered  uint64 `json:"delivered"`
	Duplicated uint64 `json:"duplicated"`
	OutOfOrder uint64 `json:"out_of_order"`
	Reconnects uint64 `json:"reconnects"`
	// Missing is the acknowledged publishes not (yet) delivered to every
	// subscriber of their channel: in flight, or lost if it stays.
	Missing uint64 `json:"missing"`
}

// Start opens the clients as Run does and publishes in the background
// until Stop or until ctx ends. Progress lines go to progress once a
// second (nil: none).
func Start(ctx context.Context, cfg Config, progress io.Writer) (*Load, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := newRun(cfg.withDefaults())
	if progress == nil {
		progress = io.Discard
	}
	l := &Load{r: r, start: time.Now(), done: make(chan struct{})}
	l.stopProg = r.progress(progress, l.start)
	if err := r.ramp(ctx); err != nil {
		l.abort()
		return nil, err
	}
	pubs, err := r.dialPublishers(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		l.abort()
		return nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	l.pubStart = time.Now()
	go func() {
		defer close(l.done)
		r.publish(pctx, pubs)
	}()
	return l, nil
}

func (l *Load) abort() {
	l.stopProg()
	l.r.closeAll()
}

// Snapshot reads the counters now. It is safe to call at any time.
func (l *Load) Snapshot() Snapshot {
	r := l.r
	missing, _ := r.missing()
	r.mu.Lock()
	conns := len(r.conns)
	r.mu.Unlock()
	t := &r.t
	return Snapshot{
		Time: time.Now(), Conns: conns, Live: int(t.live.Load()), PerNode: t.perNode(),
		Sent: t.sent.Load(), Expected: t.expected.Load(), Delivered: t.unique.Load(),
		Duplicated: t.dups.Load(), OutOfOrder: t.outOfOrder.Load(), Reconnects: t.reconnects.Load(),
		Missing: missing,
	}
}

// Channels are the channel names the load publishes to.
func (l *Load) Channels() []string {
	out := make([]string, l.r.cfg.Channels)
	for k := range out {
		out[k] = l.r.channel(k)
	}
	return out
}

// Stop ends the publishing, waits for the deliveries under way (up to
// the config's Drain, or until ctx ends), closes every client and returns
// the report. Calling it again returns the same report.
func (l *Load) Stop(ctx context.Context) *Report {
	l.once.Do(func() {
		interrupted := ctx.Err() != nil
		l.cancel()
		<-l.done
		pubEnd := time.Now()
		if ctx.Err() == nil {
			l.r.drain(ctx)
		}
		l.rep = l.r.report(l.start, l.pubStart, pubEnd, interrupted || ctx.Err() != nil)
		l.abort()
	})
	return l.rep
}

// Clients returns the subscribers' pkg/client connections (for a caller
// that needs to observe them, not to close them).
func (l *Load) Clients() []*client.Client {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	out := make([]*client.Client, 0, len(l.r.subs))
	for _, s := range l.r.subs {
		out = append(out, s.c)
	}
	return out
}
