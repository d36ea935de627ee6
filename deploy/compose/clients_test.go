package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/client"
)

// endpoint is where clients connect: gateway URLs and/or a discovery URL.
type endpoint struct {
	URLs      []string
	Discovery string
}

// fleet is a set of SDK clients over real sockets through the load
// balancer: subscribers that record every message they are handed,
// and one publisher sending numbered messages until stopped.
type fleet struct {
	t       *testing.T
	channel string

	mu        sync.Mutex
	subs      []*subscriber
	published []int   // numbers the gateway acknowledged
	pubErrs   []error // publishes that never got an acknowledgement
	stop      context.CancelFunc
	done      chan struct{}
}

// subscriber is one client and what it received.
type subscriber struct {
	c    *client.Client
	sub  *client.Subscription
	node string // node of the current connection, "" while disconnected

	got      map[int]int // number -> times delivered
	last     int         // last number delivered
	reorders int         // deliveries of a number not above the last one
	rehomes  int         // connections after the first
}

type payload struct {
	N int `json:"n"`
}

// newFleet connects n subscribers to ep and subscribes them to channel.
func newFleet(ctx context.Context, t *testing.T, ep endpoint, channel string, n int) *fleet {
	f := &fleet{t: t, channel: channel}
	tokens := clientTokens(t)
	for i := range n {
		s := &subscriber{got: map[int]int{}}
		c, err := client.Dial(ctx, client.Config{URLs: ep.URLs, Discovery: ep.Discovery, OnState: f.tracker(s), TokenFunc: tokens})
		if err != nil {
			t.Fatalf("subscriber %d: dial %v: %v", i, ep, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		s.c = c
		if s.sub, err = c.Subscribe(ctx, channel, f.handler(s)); err != nil {
			t.Fatalf("subscriber %d: subscribe: %v", i, err)
		}
		f.mu.Lock()
		f.subs = append(f.subs, s)
		f.mu.Unlock()
	}
	return f
}

// tracker follows the node a subscriber is connected to.
func (f *fleet) tracker(s *subscriber) func(client.State) {
	return func(st client.State) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch st.Kind {
		case client.Connected:
			if s.node != "" || s.rehomes > 0 || len(s.got) > 0 {
				s.rehomes++
			}
			s.node = st.Node
		case client.Disconnected, client.Closed:
			s.node = ""
		}
	}
}

func (f *fleet) handler(s *subscriber) func(client.Message) {
	return func(m client.Message) {
		var p payload
		if err := json.Unmarshal(m.Data, &p); err != nil {
			f.t.Errorf("undecodable message %s: %v", m.Data, err)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		s.got[p.N]++
		if p.N <= s.last {
			s.reorders++
		}
		s.last = p.N
	}
}

// publish starts the publisher: one client sending {"n": i} every
// interval, each publish waiting for its acknowledgement across
// reconnects (the SDK resends with the same idempotency id).
func (f *fleet) publish(ctx context.Context, ep endpoint, interval time.Duration) {
	c, err := client.Dial(ctx, client.Config{URLs: ep.URLs, Discovery: ep.Discovery, TokenFunc: clientTokens(f.t)})
	if err != nil {
		f.t.Fatalf("publisher: dial: %v", err)
	}
	f.t.Cleanup(func() { _ = c.Close() })
	pctx, cancel := context.WithCancel(context.Background())
	f.stop, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			actx, acancel := context.WithTimeout(context.Background(), 60*time.Second)
			_, err := c.Publish(actx, f.channel, fmt.Appendf(nil, `{"n":%d}`, n))
			acancel()
			f.mu.Lock()
			if err != nil {
				f.pubErrs = append(f.pubErrs, fmt.Errorf("message %d: %w", n, err))
			} else {
				f.published = append(f.published, n)
			}
			f.mu.Unlock()
		}
	}()
}

// stopPublishing stops the publisher after its current publish.
func (f *fleet) stopPublishing() {
	f.stop()
	<-f.done
}

// count is the number of messages acknowledged so far.
func (f *fleet) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.published)
}

// perNode counts connected subscribers by node; "" counts the others.
func (f *fleet) perNode() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, s := range f.subs {
		out[s.node]++
	}
	return out
}

// on returns the subscribers connected to node and how many times each
// had reconnected so far.
func (f *fleet) on(node string) map[*subscriber]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[*subscriber]int{}
	for _, s := range f.subs {
		if s.node == node {
			out[s] = s.rehomes
		}
	}
	return out
}

// rehomed reports whether every subscriber of before reconnected since
// and is connected now.
func (f *fleet) rehomed(before map[*subscriber]int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s, n := range before {
		if s.rehomes <= n || s.node == "" {
			return false
		}
	}
	return true
}

// missing reports, for the first subscriber that lacks any acknowledged
// message, how many it lacks; "" when every subscriber has them all.
func (f *fleet) missing() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.subs {
		var lacks []int
		for _, n := range f.published {
			if s.got[n] == 0 {
				lacks = append(lacks, n)
			}
		}
		if len(lacks) > 0 {
			sort.Ints(lacks)
			return fmt.Sprintf("subscriber %d (node %q) lacks %d of %d messages, first %v", i, s.node, len(lacks), len(f.published), lacks[:min(5, len(lacks))])
		}
	}
	return ""
}

// verify fails the test for any publish that was not acknowledged, any
// message delivered twice or out of order, and any gap the gateways
// could not replay.
func (f *fleet) verify(t *testing.T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pubErrs) > 0 {
		t.Errorf("%d publishes never acknowledged, first: %v", len(f.pubErrs), f.pubErrs[0])
	}
	rehomed := 0
	for i, s := range f.subs {
		for n, times := range s.got {
			if times > 1 {
				t.Errorf("subscriber %d got message %d %d times", i, n, times)
				break
			}
		}
		if s.reorders > 0 {
			t.Errorf("subscriber %d got %d messages out of order", i, s.reorders)
		}
		if g := s.sub.Gaps(); g > 0 {
			t.Errorf("subscriber %d: %d gaps the gateway could not replay", i, g)
		}
		if s.rehomes > 0 {
			rehomed++
		}
	}
	t.Logf("%d messages acknowledged, each delivered once and in order to %d subscribers; %d subscribers reconnected at least once",
		len(f.published), len(f.subs), rehomed)
}
