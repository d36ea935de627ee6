package channel

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/pool"
)

// Environment of the node process of BenchmarkSocketFanout.
const (
	envNodeNATS    = "WSHEAL_FANOUT_NODE_NATS"
	envNodeProfile = "WSHEAL_FANOUT_NODE_PROFILE" // CPU profile of the measured windows
	envBenchProf   = "WSHEAL_FANOUT_PROFILE"      // set by the caller of the benchmark
)

// fanoutChannel is the channel every client of the benchmark is on.
const fanoutChannel = "fanout"

// BenchmarkSocketFanout measures the live fan-out path as the bench suite
// does: a node process (this test binary run again as TestFanoutNode: a
// Hub and a pool.Pool, nothing else) holds N WebSocket clients on one
// channel over loopback sockets; this process runs the embedded NATS
// server, the clients and a publisher that keeps at most 200,000/N
// messages in flight (as fast as the clients receive). Each iteration
// measures one second and reports the deliveries per CPU-second of the
// node process (its user and system time), deliveries per second, and
// deliveries per write system call of the node. With
// WSHEAL_FANOUT_PROFILE=file the node writes a CPU profile of the
// measured seconds there.
func BenchmarkSocketFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			s := natstest.Start(b)
			node := startFanoutNode(b, s.URL())
			var delivered atomic.Uint64
			dialFanoutClients(b, node.ws, n, &delivered)
			nc, js := s.JetStream()
			pub := &fanoutPublisher{js: js, delivered: &delivered, fan: uint64(n), window: uint64(max(1, 200000/n))}
			pub.run(b, 500*time.Millisecond) // warm up
			node.command(b, "start")
			cpu0, w0 := node.usage(b)
			d0, t0 := delivered.Load(), time.Now()
			for range b.N {
				pub.run(b, time.Second)
			}
			cpu1, w1 := node.usage(b)
			el := time.Since(t0)
			node.command(b, "stop")
			got := float64(delivered.Load() - d0)
			b.ReportMetric(got/el.Seconds(), "deliveries/s")
			b.ReportMetric(got/(cpu1-cpu0), "deliveries/CPU-s")
			b.ReportMetric(got/float64(w1-w0), "deliveries/write")
			b.ReportMetric(0, "ns/op")
			nc.Close()
		})
	}
}

// fanoutNode is the node process.
type fanoutNode struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	ws    string // host:port
}

func startFanoutNode(b *testing.B, natsURL string) *fanoutNode {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFanoutNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), envNodeNATS+"="+natsURL, envNodeProfile+"="+os.Getenv(envBenchProf))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	n := &fanoutNode{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	b.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	line, err := n.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ws ") {
		b.Fatalf("node: %q %v", line, err)
	}
	n.ws = strings.TrimSpace(strings.TrimPrefix(line, "ws "))
	return n
}

// command sends a line to the node and waits for its answer.
func (n *fanoutNode) command(b *testing.B, cmd string) {
	b.Helper()
	if _, err := io.WriteString(n.stdin, cmd+"\n"); err != nil {
		b.Fatal(err)
	}
	if line, err := n.out.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ok" {
		b.Fatalf("node: %s: %q %v", cmd, line, err)
	}
}

// usage is the node's CPU time in seconds (user and system) and its
// write system calls so far.
func (n *fanoutNode) usage(b *testing.B) (float64, uint64) {
	b.Helper()
	pid := strconv.Itoa(n.cmd.Process.Pid)
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	io, err := os.ReadFile("/proc/" + pid + "/io")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	var writes uint64
	for _, l := range strings.Split(string(io), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			writes, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	return float64(utime+stime) / 100, writes // USER_HZ
}

// fanoutPublisher publishes as fast as the clients receive, keeping at
// most window messages in flight (as the bench suite's fan-out does).
type fanoutPublisher struct {
	js        jetstream.JetStream
	delivered *atomic.Uint64
	fan       uint64
	window    uint64
	published uint64
	base      uint64
	started   bool
}

func (p *fanoutPublisher) run(b *testing.B, d time.Duration) {
	b.Helper()
	if !p.started {
		p.base, p.started = p.delivered.Load(), true
	}
	end := time.Now().Add(d)
	payload := make([]byte, 64)
	for time.Now().Before(end) {
		got := (p.delivered.Load() - p.base) / p.fan
		if p.published >= got+p.window {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		payload = append(strconv.AppendInt(append(payload[:0], '"'), time.Now().UnixNano(), 10), '-')
		for len(payload) < 63 {
			payload = append(payload, 'x')
		}
		payload = append(payload, '"')
		if _, err := p.js.PublishAsync(events.ChannelSubject(fanoutChannel), payload); err != nil {
			b.Fatal(err)
		}
		p.published++
	}
}

// dialFanoutClients opens n clients from loopback addresses of their own
// (127.0.1.x: 1,000 a source) and waits until each read its first frame
// (it is subscribed); every later frame counts in delivered.
func dialFanoutClients(b *testing.B, addr string, n int, delivered *atomic.Uint64) {
	b.Helper()
	var ready sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed atomic.Value
	for i := range n {
		ready.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i/1000))}
			c, err := (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).Dial("tcp", addr)
			if err != nil {
				failed.Store(err)
				ready.Done()
				return
			}
			b.Cleanup(func() { _ = c.Close() })
			go readFanout(c, &ready, delivered, &failed)
		}()
	}
	ready.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("clients: %v", err)
	}
}

// readFanout upgrades c and counts the frames it reads after the first.
func readFanout(c net.Conn, ready *sync.WaitGroup, delivered *atomic.Uint64, failed *atomic.Value) {
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	br := bufio.NewReaderSize(c, 4096)
	if _, err := io.WriteString(c, req); err != nil {
		failed.Store(err)
		ready.Done()
		return
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		failed.Store(fmt.Errorf("upgrade: %v %v", err, resp))
		ready.Done()
		return
	}
	first := true
	var h [10]byte
	for {
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			return
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(br, h[2:4]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			if _, err := io.ReadFull(br, h[2:10]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(h[2:10])
		}
		if _, err := br.Discard(int(n)); err != nil {
			return
		}
		switch op := h[0] & 0x0f; {
		case op == 0x9: // ping: pong back with its payload is not needed
		case first:
			first = false
			ready.Done()
		default:
			delivered.Add(1)
		}
	}
}

// fanoutHandler subscribes every connection to fanoutChannel and then
// sends it a first frame.
type fanoutHandler struct{ hub *Hub }

func (h fanoutHandler) Open(c *pool.Conn) {
	if _, err := h.hub.Subscribe(context.Background(), fanoutChannel, c, nil); err != nil {
		c.Close(1011, events.CauseError, err.Error())
		return
	}
	c.SendFirst([]byte(`{"op":"hello"}`))
}
func (h fanoutHandler) Message(*pool.Conn, []byte) {}
func (h fanoutHandler) Close(c *pool.Conn, _ string) {
	h.hub.Unsubscribe(fanoutChannel, c)
}

// TestFanoutNode is the node process of BenchmarkSocketFanout; it runs
// only when that benchmark starts it.
func TestFanoutNode(t *testing.T) {
	url := os.Getenv(envNodeNATS)
	if url == "" {
		t.Skip("the node process of BenchmarkSocketFanout")
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub(nc, js, Config{}, zerolog.Nop())
	defer hub.Close()
	p := pool.New(pool.Limits{MaxConns: 20000, AcceptRate: 1e6, AcceptBurst: 1e6, MaxMessage: 1 << 16,
		SendQueue: 1024, SendQueueBytes: 4 << 20, WriteTimeout: 10 * time.Second,
		PingInterval: 5 * time.Second, PongDeadline: time.Minute, IdleTimeout: time.Hour}, fanoutHandler{hub}, nil, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := p.Admit(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = p.Upgrade(w, r, pool.Accept{})
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fmt.Printf("ws %s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	var prof *os.File
	for in.Scan() {
		switch in.Text() {
		case "start":
			if path := os.Getenv(envNodeProfile); path != "" {
				if prof, err = os.Create(path); err == nil {
					err = pprof.StartCPUProfile(prof)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		case "stop":
			if prof != nil {
				pprof.StopCPUProfile()
				_ = prof.Close()
			}
		}
		fmt.Println("ok")
	}
}
