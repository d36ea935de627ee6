package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// follower is a client that obeys reconnect hints.
type follower struct {
	mu    sync.Mutex
	hint  string
	code  int
	moved *client
}

func follow(t *testing.T, c *client, done *sync.WaitGroup, f *follower) {
	defer done.Done()
	for {
		select {
		case fr := <-c.frames:
			if fr.Op == frame.OpReconnect {
				f.mu.Lock()
				f.hint = fr.URL
				f.mu.Unlock()
			}
		case <-c.closed:
			f.mu.Lock()
			defer f.mu.Unlock()
			f.code = int(c.code.Load())
			if f.hint != "" && frame.ShouldReconnect(f.code) {
				f.moved = dial(t, f.hint)
			}
			return
		case <-time.After(20 * time.Second):
			t.Errorf("follower: nothing happened")
			return
		}
	}
}

func TestDrainMovesEveryClient(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, testConfig(ns, "gw-da"))
	b := startNode(t, testConfig(ns, "gw-db"))
	natstest.Eventually(t, 5*time.Second, func() bool {
		r, ok := a.registry.Get("gw-db")
		return ok && r.Fresh(time.Now())
	}, "node b not in a's registry")

	phases := make(chan string, 100)
	sub, err := ns.Conn().Subscribe(events.LifecycleSubject("gw-da"), func(m *nats.Msg) {
		if ev, err := events.Decode(m.Data); err == nil {
			phases <- ev.Payload.(*events.Lifecycle).Phase
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	const n = 20
	var wg sync.WaitGroup
	followers := make([]*follower, n)
	for i := range followers {
		c := dial(t, a.URL())
		followers[i] = &follower{}
		wg.Add(1)
		go follow(t, c, &wg, followers[i])
	}
	var rep events.DrainReply
	if err := request(t, ns, "gw-da", events.VerbDrain, events.DrainCommand{ID: "d1", OverMS: 400}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Connections != n || rep.OverMS != 400 {
		t.Fatalf("drain reply = %+v", rep)
	}
	assertStatus(t, a.URL(), "/readyz", http.StatusServiceUnavailable)
	if _, resp, err := tryDial(t, a.URL(), false); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade while draining: %v %v", err, resp)
	}
	wg.Wait()
	for i, f := range followers {
		if f.code != frame.CloseDrain || f.hint != b.URL() || f.moved == nil {
			t.Fatalf("client %d: code %d hint %q moved %v", i, f.code, f.hint, f.moved != nil)
		}
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return a.pool.Len() == 0 && b.pool.Len() == n }, "clients not moved")
	waitPhase(t, phases, events.LifecycleDraining)
	waitPhase(t, phases, events.LifecycleDrained)

	var st events.GatewayStatus
	if err := request(t, ns, "gw-da", events.VerbUndrain, events.UndrainCommand{ID: "u1"}, &st); err != nil {
		t.Fatal(err)
	}
	if st.Draining {
		t.Fatal("still draining after undrain")
	}
	waitPhase(t, phases, events.LifecycleUndrained)
	assertStatus(t, a.URL(), "/readyz", http.StatusOK)
	dial(t, a.URL())
}

func waitPhase(t *testing.T, phases chan string, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-phases:
			if p == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %s lifecycle event", want)
		}
	}
}

// assertStatus GETs path on the node of a ws URL.
func assertStatus(t *testing.T, wsURL, path string, want int) []byte {
	t.Helper()
	u := strings.Replace(strings.TrimSuffix(wsURL, "/ws"), "ws://", "http://", 1) + path
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d %s, want %d", path, resp.StatusCode, body, want)
	}
	return body
}

// TestStopDrainsFirst: a clean stop (SIGTERM in main) moves the clients
// to the other node with paced hints before the node goes.
func TestStopDrainsFirst(t *testing.T) {
	ns := natstest.Start(t)
	a, stop := runNode(t, testConfig(ns, "gw-sa"))
	b := startNode(t, testConfig(ns, "gw-sb"))
	natstest.Eventually(t, 5*time.Second, func() bool {
		r, ok := a.registry.Get("gw-sb")
		return ok && r.Fresh(time.Now())
	}, "node b not in a's registry")
	const n = 10
	var wg sync.WaitGroup
	followers := make([]*follower, n)
	for i := range followers {
		followers[i] = &follower{}
		wg.Add(1)
		go follow(t, dial(t, a.URL()), &wg, followers[i])
	}
	stop()
	wg.Wait()
	for i, f := range followers {
		if f.code != frame.CloseDrain || f.hint != b.URL() || f.moved == nil {
			t.Fatalf("client %d: code %d hint %q moved %v", i, f.code, f.hint, f.moved != nil)
		}
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return b.pool.Len() == n }, "clients not on b")
}

// TestDrainDoesNotWaitForDeadPeers: a peer that reads nothing, with its
// socket full, cannot hold a drain open: its queued frames get a bounded
// time to flush, then the connection goes.
func TestDrainDoesNotWaitForDeadPeers(t *testing.T) {
	ns := natstest.Start(t)
	cfg := testConfig(ns, "gw-dd")
	cfg.PingInterval, cfg.SendQueue = time.Minute, 100000
	// The drain, not the byte bound or the write deadline, must close it.
	cfg.SendQueueBytes, cfg.WriteTimeout = 1<<30, 10*time.Minute
	s := startNode(t, cfg)
	ws := rawDial(t, s.Addr())
	if err := ws.WriteString(`{"op":"subscribe","id":1,"channel":"fill"}`); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 5*time.Second, func() bool { return s.hub.Stats().Subscribers == 1 }, "not subscribed")
	_, js := ns.JetStream()
	payload := []byte(`"` + strings.Repeat("x", 32<<10) + `"`)
	for range 400 { // 13 MB: more than the socket buffers of both ends
		if _, err := js.Publish(context.Background(), events.ChannelSubject("fill"), payload); err != nil {
			t.Fatal(err)
		}
	}
	// Full: a backlog that has stopped moving for 200 ms.
	var last int
	var since time.Time
	natstest.Eventually(t, 10*time.Second, func() bool {
		if b := s.pool.Totals().Backlog; b != last || since.IsZero() {
			last, since = b, time.Now()
			return false
		}
		return last > 0 && time.Since(since) >= 200*time.Millisecond
	}, "the socket never filled")
	if err := request(t, ns, "gw-dd", events.VerbDrain, events.DrainCommand{ID: "dd", OverMS: 100}, nil); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 15*time.Second, func() bool { return s.pool.Len() == 0 }, "dead peer held the drain")
	if got := s.pool.Totals().Closed[events.CauseDrained]; got != 1 {
		t.Fatalf("closed as drained: %d", got)
	}
}
