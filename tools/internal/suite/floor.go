package suite

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// floor is the fan-out floor: the least work a server can do to put a
// message on N WebSockets, which is the cost the machine itself imposes.
// No NATS, no client protocol beyond "sub <channel>" / "ok <channel>", no
// authentication, no pings, no buffering, no bookkeeping besides the
// members of each channel. Publishes arrive on a plain TCP control socket
// (see floorPublisher); everything that arrived together is a burst, and a
// burst's frames for a channel are encoded once and written to each member
// in one write per connection. Writes are spread over one goroutine per
// processor, each owning a share of the connections.
type floor struct {
	ws, ctl net.Listener
	shards  []chan floorBurst
	next    atomic.Uint64

	mu       sync.RWMutex
	channels map[string]*floorChannel
}

// floorChannel holds a channel's members, one list per shard. Lists are
// replaced, never changed in place, once a burst may hold them.
type floorChannel struct{ members [][]*floorConn }

// floorConn is one client connection.
type floorConn struct {
	c        net.Conn
	shard    int
	mu       sync.Mutex // one writer at a time: the shard or the read loop
	channels []string   // read loop only
}

// floorItem is a channel's encoded frames with its members when the burst
// was taken; a floorBurst is every item of one burst.
type floorItem struct {
	members [][]*floorConn
	frames  []byte
}

type floorBurst struct {
	items []floorItem
	done  *sync.WaitGroup
}

// maxFloorFrame bounds what the floor reads from a client or a publisher.
const maxFloorFrame = 64 << 10

// errFloorFrame: a client frame the floor does not read.
var errFloorFrame = errors.New("suite: floor: bad frame")

// startFloor listens for WebSockets and for the control socket on random
// ports of 127.0.0.1 until ctx is done.
func startFloor(ctx context.Context) (*floor, error) {
	f := &floor{channels: map[string]*floorChannel{}}
	var err error
	if f.ws, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("%w: floor: %v", ErrServer, err)
	}
	if f.ctl, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		_ = f.ws.Close()
		return nil, fmt.Errorf("%w: floor: %v", ErrServer, err)
	}
	for range runtime.GOMAXPROCS(0) {
		ch := make(chan floorBurst, 1)
		f.shards = append(f.shards, ch)
		go writeShard(len(f.shards)-1, ch)
	}
	srv := &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(f.ws) }()
	go f.acceptControl()
	go func() {
		<-ctx.Done()
		_ = f.ws.Close()
		_ = f.ctl.Close()
	}()
	return f, nil
}

// url is the clients' WebSocket URL; control the publishers' address.
func (f *floor) url() string     { return "ws://" + f.ws.Addr().String() + "/ws" }
func (f *floor) control() string { return f.ctl.Addr().String() }

// serve upgrades a request (RFC 6455 section 4.2) and runs the
// connection's read loop.
func (f *floor) serve(w http.ResponseWriter, req *http.Request) {
	key := req.Header.Get("Sec-WebSocket-Key")
	if req.Method != http.MethodGet || key == "" || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if _, err := io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n"); err != nil {
		_ = c.Close()
		return
	}
	fc := &floorConn{c: c, shard: int(f.next.Add(1) % uint64(len(f.shards)))}
	f.readLoop(fc, brw.Reader)
}

// readLoop reads client frames until the connection ends: "sub <channel>"
// joins and is answered "ok <channel>", a ping is answered, a close ends.
func (f *floor) readLoop(fc *floorConn, br *bufio.Reader) {
	defer f.leave(fc)
	defer fc.c.Close()
	buf := make([]byte, 0, 512)
	for {
		op, payload, err := readClientFrame(br, buf[:0])
		if err != nil {
			return
		}
		switch op {
		case 0x1, 0x2:
			if name, ok := cutSub(payload); ok {
				f.join(name, fc)
				fc.channels = append(fc.channels, name)
				fc.write(appendFrame(nil, 0x1, append([]byte("ok "), name...)))
			}
		case 0x8:
			fc.write(appendFrame(nil, 0x8, nil))
			return
		case 0x9:
			fc.write(appendFrame(nil, 0xA, payload))
		}
		buf = payload[:0]
	}
}

func cutSub(p []byte) (string, bool) {
	if len(p) < 5 || string(p[:4]) != "sub " {
		return "", false
	}
	return string(p[4:]), true
}

// write sends b in one write.
func (fc *floorConn) write(b []byte) {
	fc.mu.Lock()
	_, _ = fc.c.Write(b)
	fc.mu.Unlock()
}

func (f *floor) join(name string, fc *floorConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.channels[name]
	if ch == nil {
		ch = &floorChannel{members: make([][]*floorConn, len(f.shards))}
		f.channels[name] = ch
	}
	members := append([][]*floorConn(nil), ch.members...)
	members[fc.shard] = append(append([]*floorConn(nil), members[fc.shard]...), fc)
	ch.members = members
}

func (f *floor) leave(fc *floorConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, name := range fc.channels {
		ch := f.channels[name]
		if ch == nil {
			continue
		}
		members := append([][]*floorConn(nil), ch.members...)
		kept := make([]*floorConn, 0, len(members[fc.shard]))
		for _, m := range members[fc.shard] {
			if m != fc {
				kept = append(kept, m)
			}
		}
		members[fc.shard] = kept
		ch.members = members
	}
}

// acceptControl serves publishers, each on a goroutine of its own.
func (f *floor) acceptControl() {
	for {
		c, err := f.ctl.Accept()
		if err != nil {
			return
		}
		go f.publishLoop(c)
	}
}

// publishLoop reads publishes (see floorPublisher) and fans out each
// burst: what one read brought, down to the last complete publish.
func (f *floor) publishLoop(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 1<<20)
	var done sync.WaitGroup
	for {
		frames := map[string][]byte{}
		var order []string
		for first := true; first || br.Buffered() > 0; first = false {
			channel, data, err := readPublish(br)
			if err != nil {
				return
			}
			if _, ok := frames[channel]; !ok {
				order = append(order, channel)
			}
			frames[channel] = appendFrame(frames[channel], 0x1, data)
		}
		b := floorBurst{done: &done}
		f.mu.RLock()
		for _, name := range order {
			if ch := f.channels[name]; ch != nil {
				b.items = append(b.items, floorItem{members: ch.members, frames: frames[name]})
			}
		}
		f.mu.RUnlock()
		done.Add(len(f.shards))
		for _, s := range f.shards {
			s <- b
		}
		done.Wait()
	}
}

// writeShard writes each burst to the shard's members of its channels.
func writeShard(shard int, bursts <-chan floorBurst) {
	for b := range bursts {
		for _, it := range b.items {
			for _, fc := range it.members[shard] {
				fc.write(it.frames)
			}
		}
		b.done.Done()
	}
}

// readClientFrame reads one masked client frame into buf (RFC 6455
// section 5.2); fragments are read as frames of their own.
func readClientFrame(br *bufio.Reader, buf []byte) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 == 0 {
		return 0, nil, errFloorFrame // clients must mask
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > maxFloorFrame {
		return 0, nil, errFloorFrame
	}
	var mask [4]byte
	if _, err := io.ReadFull(br, mask[:]); err != nil {
		return 0, nil, err
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return 0, nil, err
	}
	for i := range buf {
		buf[i] ^= mask[i&3]
	}
	return h[0] & 0x0f, buf, nil
}

// appendFrame appends an unmasked final server frame of opcode op.
func appendFrame(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// readPublish reads one publish: the channel's length (1 byte), the
// data's length (4 bytes, big-endian), the channel, the data.
func readPublish(br *bufio.Reader) (string, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return "", nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFloorFrame {
		return "", nil, errFloorFrame
	}
	b := make([]byte, int(h[0])+int(n))
	if _, err := io.ReadFull(br, b); err != nil {
		return "", nil, err
	}
	return string(b[:h[0]]), b[h[0]:], nil
}

// appendPublish encodes one publish for readPublish.
func appendPublish(b []byte, channel string, data []byte) []byte {
	b = append(b, byte(len(channel)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(append(b, channel...), data...)
}

// floorPublisher publishes into a floor over its control socket. Writes
// are buffered and flushed by a goroutine of its own, as soon as it is
// free, so that publishes sent together arrive together.
type floorPublisher struct {
	c    net.Conn
	mu   sync.Mutex
	w    *bufio.Writer
	kick chan struct{}
	err  error // under mu
}

func dialFloor(addr string) (*floorPublisher, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("suite: floor publisher: %w", err)
	}
	p := &floorPublisher{c: c, w: bufio.NewWriterSize(c, 256<<10), kick: make(chan struct{}, 1)}
	go p.flusher()
	return p, nil
}

func (p *floorPublisher) publish(channel string, data []byte) error {
	if len(channel) > 255 {
		return fmt.Errorf("suite: floor: channel %q too long", channel)
	}
	p.mu.Lock()
	if p.err == nil {
		_, p.err = p.w.Write(appendPublish(make([]byte, 0, 5+len(channel)+len(data)), channel, data))
	}
	err := p.err
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return err
}

func (p *floorPublisher) flusher() {
	for range p.kick {
		p.flush()
	}
}

func (p *floorPublisher) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = p.w.Flush()
	}
	return p.err
}

// settle flushes; the floor refuses nothing.
func (p *floorPublisher) settle(context.Context) (uint64, error) { return 0, p.flush() }

func (p *floorPublisher) close() {
	_ = p.flush()
	close(p.kick)
	_ = p.c.Close()
}
