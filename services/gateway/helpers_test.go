package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/frame"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/channel"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// testConfig is a node on ns with small intervals.
func testConfig(ns *natstest.Server, node string) Config {
	return Config{
		NATS:   natsConfig(ns),
		Node:   node,
		Listen: "127.0.0.1:0",
		Auth:   "none",
		Limits: pool.Limits{
			MaxConns: 1000, AcceptRate: 1000, AcceptBurst: 1000,
			MaxMessage: frame.DefaultMaxSize, InboundRate: 0, InboundBurst: 100, SendQueue: 1024,
			PingInterval: time.Second, PongDeadline: 3 * time.Second,
			IdleTimeout: time.Minute, HandshakeTimeout: 2 * time.Second,
		},
		MaxSubs:           100,
		HeartbeatInterval: 100 * time.Millisecond, HealthInterval: 200 * time.Millisecond,
		DrainOver: 500 * time.Millisecond, DrainTimeout: 2 * time.Second,
		ConnEventRate: 100, ConnEventBurst: 100, Config: channel.Config{ReplayWindow: 256, ReplayStall: 15 * time.Second},
	}
}

func natsConfig(ns *natstest.Server) service.NATS {
	return service.NATS{URL: ns.URL(), Replicas: 1}
}

// startNode runs a node until the test ends and waits until it serves.
func startNode(t testing.TB, cfg Config) *Service {
	t.Helper()
	s, stop := runNode(t, cfg)
	t.Cleanup(stop)
	return s
}

// runNode runs a node; stop ends it cleanly and waits for Run to return.
func runNode(t testing.TB, cfg Config) (*Service, func()) {
	t.Helper()
	s, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("node not ready")
	}
	var once sync.Once
	return s, func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("node did not stop")
			}
		})
	}
}

// client is a real gws client that records the frames it receives.
type client struct {
	t           testing.TB
	ws          *gws.Conn
	ignorePings bool
	frames      chan frame.Server
	closed      chan struct{}
	code        atomic.Int32
	nextID      atomic.Uint64
	hello       frame.Server
}

func (c *client) OnOpen(*gws.Conn) {}

func (c *client) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		c.code.Store(int32(ce.Code))
	} else {
		c.code.Store(-1)
	}
	close(c.closed)
}

func (c *client) OnPing(ws *gws.Conn, payload []byte) {
	if !c.ignorePings {
		_ = ws.WritePong(payload)
	}
}

func (c *client) OnPong(*gws.Conn, []byte) {}

func (c *client) OnMessage(_ *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	f, err := frame.DecodeServer(msg.Bytes())
	if err != nil {
		c.t.Errorf("client: bad server frame %q: %v", msg.Bytes(), err)
		return
	}
	if f.Op == frame.OpPosition {
		return // a quiet channel's position moved: nothing these tests follow
	}
	select {
	case c.frames <- f:
	default:
		c.t.Errorf("client: frame buffer full")
	}
}

// dial connects; the hello frame is read before it returns.
func dial(t testing.TB, url string) *client {
	t.Helper()
	c, resp, err := tryDial(t, url, false)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	return c
}

// clientFrames is how many frames a test client holds unread; past it the
// test fails ("frame buffer full"). The buffer is allocated whole and
// scanned by every GC, so it is sized for these tests, not generously:
// 300 clients of 100,000 frames once held 6.7 GB, and the GC work stalled
// the nodes under test past their handshake timeout.
const clientFrames = 4096

func tryDial(t testing.TB, url string, ignorePings bool) (*client, *http.Response, error) {
	c := &client{t: t, ignorePings: ignorePings, frames: make(chan frame.Server, clientFrames), closed: make(chan struct{})}
	ws, resp, err := gws.NewClient(c, &gws.ClientOption{Addr: url, ReadMaxPayloadSize: 1 << 20})
	if err != nil {
		return nil, resp, err
	}
	c.ws = ws
	go ws.ReadLoop()
	t.Cleanup(func() { _ = ws.NetConn().Close() })
	c.hello = c.expect(frame.OpHello)
	return c, resp, nil
}

func (c *client) send(f frame.Client) uint64 {
	c.t.Helper()
	if f.ID == 0 && f.Op != frame.OpPing {
		f.ID = c.nextID.Add(1)
	}
	b, _ := json.Marshal(f)
	if err := c.ws.WriteMessage(gws.OpcodeText, b); err != nil {
		c.t.Fatalf("client send: %v", err)
	}
	return f.ID
}

// expect returns the next frame, which must have op.
func (c *client) expect(op string) frame.Server {
	c.t.Helper()
	select {
	case f := <-c.frames:
		if f.Op != op {
			c.t.Fatalf("client: want %s frame, got %+v", op, f)
		}
		return f
	case <-time.After(10 * time.Second):
		c.t.Fatalf("client: no %s frame", op)
	}
	return frame.Server{}
}

// reply waits for the reply or error with id, keeping msg frames aside.
func (c *client) reply(id uint64, msgs *[]frame.Server) frame.Server {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-c.frames:
			if (f.Op == frame.OpReply || f.Op == frame.OpError) && f.ID == id {
				return f
			}
			if msgs != nil && f.Op == frame.OpMessage {
				*msgs = append(*msgs, f)
			}
		case <-deadline:
			c.t.Fatalf("client: no reply to %d", id)
		}
	}
}

// waitClosed returns the close code the server sent (-1 for none).
func (c *client) waitClosed(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.closed:
		return int(c.code.Load())
	case <-time.After(timeout):
		c.t.Fatalf("client: not closed within %v", timeout)
	}
	return 0
}

// request sends a control command to a node and decodes the reply.
func request(t testing.TB, ns *natstest.Server, node, verb string, cmd, out any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return events.Request(ctx, ns.Conn(), events.GatewayControlSubject(node, verb), cmd, out)
}

// rawDial opens a TCP connection with a tiny receive buffer and upgrades it
// without ever reading: a consumer that never reads.
func rawDial(t testing.TB, addr string) *gws.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = nc.(*net.TCPConn).SetReadBuffer(4096)
	ws, _, err := gws.NewClientFromConn(&gws.BuiltinEventHandler{}, &gws.ClientOption{Addr: "ws://" + addr + "/ws"}, nc)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return ws
}
