package gateway

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// benchConfig is a node for benchmarks: no pings during the run.
func benchConfig(ns *natstest.Server, node string) Config {
	cfg := testConfig(ns, node)
	cfg.MaxConns, cfg.AcceptRate, cfg.AcceptBurst = 20000, 1e6, 100000
	cfg.PingInterval, cfg.PongDeadline = time.Hour, time.Hour
	cfg.HeartbeatInterval, cfg.HealthInterval = time.Second, 5*time.Second
	cfg.SendQueue = 4096
	return cfg
}

// counter counts the msg frames a client receives.
type counter struct {
	gws.BuiltinEventHandler
	n *atomic.Int64
}

var msgPrefix = []byte(`{"op":"msg"`)

func (c counter) OnMessage(_ *gws.Conn, m *gws.Message) {
	if bytes.HasPrefix(m.Bytes(), msgPrefix) {
		c.n.Add(1)
	}
	_ = m.Close()
}

// BenchmarkFanout publishes b.N messages to JetStream on one channel that
// 500 real WebSocket clients subscribe to through one node, and reports
// deliveries per second and heap per connection (client and server ends,
// both in this process).
func BenchmarkFanout(b *testing.B) {
	const conns = 500
	ns := natstest.Start(b)
	s := startNode(b, benchConfig(ns, "gw-bench"))
	var delivered atomic.Int64
	before := heapInUse()
	for range conns {
		ws, _, err := gws.NewClient(counter{n: &delivered}, &gws.ClientOption{Addr: s.URL()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ws.NetConn().Close() })
		go ws.ReadLoop()
		if err := ws.WriteString(`{"op":"subscribe","id":1,"channel":"bench"}`); err != nil {
			b.Fatal(err)
		}
	}
	natstest.Eventually(b, 30*time.Second, func() bool { return s.hub.Stats().Subscribers == conns }, "not subscribed")
	perConn := float64(heapInUse()-before) / conns
	_, js := ns.JetStream()
	payload := []byte(`{"price":101.25,"sym":"ABC","ts":1700000000000}`)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := js.PublishAsync(events.ChannelSubject("bench"), payload); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	want := int64(b.N) * conns
	natstest.Eventually(b, 2*time.Minute, func() bool { return delivered.Load() >= want }, "delivered %d of %d", delivered.Load(), want)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(want)/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(perConn, "heap-B/conn")
}

// BenchmarkIdleConnMemory holds 2000 idle upgraded connections whose
// client ends are bare sockets (no reader) and reports the node's heap
// and stacks per connection and its goroutines per connection. The
// measurement is taken once; ns/op is not meaningful.
func BenchmarkIdleConnMemory(b *testing.B) {
	const conns = 2000
	ns := natstest.Start(b)
	s := startNode(b, benchConfig(ns, "gw-mem"))
	before, g0 := heapInUse(), runtime.NumGoroutine()
	for range conns {
		nc := rawUpgrade(b, s.Addr())
		b.Cleanup(func() { _ = nc.Close() })
	}
	natstest.Eventually(b, 30*time.Second, func() bool { return s.pool.Len() >= conns }, "not connected")
	perConn := float64(heapInUse()-before) / conns
	goroutines := float64(runtime.NumGoroutine()-g0) / conns
	for b.Loop() {
	}
	b.ReportMetric(perConn, "B/conn")
	b.ReportMetric(goroutines, "goroutines/conn")
}

// rawUpgrade performs the opening handshake by hand and never reads again.
func rawUpgrade(b *testing.B, addr string) net.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/ws", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(nc); err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(nc, 512), req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %v %v", err, resp)
	}
	return nc
}

// heapInUse is heap plus goroutine stacks in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // and the pools' victim caches
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// BenchmarkIdleConnMemoryRawGWS is the baseline of BenchmarkIdleConnMemory:
// a bare gws server (default options, read loop per connection, no
// pings) holding the same 2000 idle connections.
func BenchmarkIdleConnMemoryRawGWS(b *testing.B) {
	const conns = 2000
	up := gws.NewUpgrader(&gws.BuiltinEventHandler{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var open atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		open.Add(1)
		go ws.ReadLoop()
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	before, g0 := heapInUse(), runtime.NumGoroutine()
	for range conns {
		nc := rawUpgrade(b, ln.Addr().String())
		b.Cleanup(func() { _ = nc.Close() })
	}
	natstest.Eventually(b, 30*time.Second, func() bool { return open.Load() >= conns }, "not connected")
	perConn := float64(heapInUse()-before) / conns
	goroutines := float64(runtime.NumGoroutine()-g0) / conns
	for b.Loop() {
	}
	b.ReportMetric(perConn, "B/conn")
	b.ReportMetric(goroutines, "goroutines/conn")
}
