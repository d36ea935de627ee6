package suite

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseCPUTime(t *testing.T) {
	cases := []struct {
		name string
		stat string
		want time.Duration
		err  error
	}{
		{"plain", "42 (wsheal) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 1000 200", 3250 * time.Millisecond, nil},
		{"spaces and parens in the name", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 1 1", 30 * time.Millisecond, nil},
		{"no name", "7 R 1", 0, ErrNoCPU},
		{"short", "7 (x) R 1 2 3", 0, ErrNoCPU},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 0", 0, ErrNoCPU},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCPUTime([]byte(tc.stat))
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("parseCPUTime = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestCPUTimeOfThisProcess(t *testing.T) {
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := CPUTime(-1); err == nil {
		t.Fatal("CPU time of no process answered")
	}
}

// clientFrame is a masked client frame of opcode op (RFC 6455 5.3).
func clientFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i&3])
	}
	return b
}

func TestFloorClientFrames(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 300, 0xffff, maxFloorFrame} {
		payload := bytes.Repeat([]byte{'a'}, n)
		op, got, err := readClientFrame(bufio.NewReader(bytes.NewReader(clientFrame(0x1, payload))), nil)
		if err != nil || op != 0x1 || !bytes.Equal(got, payload) {
			t.Errorf("%d bytes: op %d, %d bytes, %v", n, op, len(got), err)
		}
	}
	tooBig := clientFrame(0x2, make([]byte, maxFloorFrame+1))
	unmasked := appendFrame(nil, 0x1, []byte("sub x"))
	for name, b := range map[string][]byte{"too big": tooBig, "unmasked": unmasked} {
		if _, _, err := readClientFrame(bufio.NewReader(bytes.NewReader(b)), nil); !errors.Is(err, errFloorFrame) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFloorServerFrames(t *testing.T) {
	for _, tc := range []struct {
		n      int
		header []byte
	}{{0, []byte{0x81, 0}}, {125, []byte{0x81, 125}}, {126, []byte{0x81, 126, 0, 126}},
		{70000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70}}} {
		b := appendFrame(nil, 0x1, make([]byte, tc.n))
		if !bytes.HasPrefix(b, tc.header) || len(b) != len(tc.header)+tc.n {
			t.Errorf("%d bytes: header % x, length %d", tc.n, b[:min(len(b), 10)], len(b))
		}
	}
}

func TestFloorPublishes(t *testing.T) {
	var b []byte
	b = appendPublish(b, "small", Payload(time.Unix(0, 7)))
	b = appendPublish(b, "ch-1", nil)
	br := bufio.NewReader(bytes.NewReader(b))
	for _, want := range []struct {
		channel string
		data    []byte
	}{{"small", Payload(time.Unix(0, 7))}, {"ch-1", nil}} {
		ch, data, err := readPublish(br)
		if err != nil || ch != want.channel || !bytes.Equal(data, want.data) {
			t.Errorf("readPublish = %q, %q, %v; want %q, %q", ch, data, err, want.channel, want.data)
		}
	}
	if _, _, err := readPublish(br); err == nil {
		t.Error("read past the end")
	}
}

func TestCentrifugoLines(t *testing.T) {
	c := &wconn{w: &worker{}, ready: make(chan struct{}), acks: make(chan bool, 4)}
	c.onCentrifugo(nil, []byte(`{"id":1,"connect":{"client":"abc","version":"6.9.1"}}`))
	select {
	case <-c.ready:
	default:
		t.Fatal("connect reply did not welcome")
	}
	push := `{"push":{"channel":"bench:x","pub":{"data":` + string(Payload(time.Unix(0, 1234567890123456789))) + `,"offset":3}}}`
	c.onCentrifugo(nil, []byte(`{"id":2,"subscribe":{"recoverable":true}}`+"\n"+push+"\n"+`{"id":3,"error":{"code":103,"message":"permission denied"}}`))
	if got := c.w.delivered.Load(); got != 1 {
		t.Errorf("delivered %d, want 1", got)
	}
	for _, want := range []bool{true, false} {
		select {
		case ok := <-c.acks:
			if ok != want {
				t.Errorf("ack %v, want %v", ok, want)
			}
		default:
			t.Fatalf("no ack, want %v", want)
		}
	}
	c.onCentrifugo(nil, []byte(`{"push":{"channel":"","disconnect":{"code":3001,"reason":"shutdown"}}}`))
	if got := c.w.delivered.Load(); got != 1 {
		t.Errorf("a disconnect push counted: delivered %d", got)
	}
}

func FuzzFloorClientFrame(f *testing.F) {
	f.Add(clientFrame(0x1, []byte("sub x")))
	f.Add(clientFrame(0x9, nil))
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for {
			_, p, err := readClientFrame(br, nil)
			if err != nil {
				return
			}
			if len(p) > maxFloorFrame {
				t.Fatalf("%d bytes read", len(p))
			}
		}
	})
}

func FuzzFloorPublish(f *testing.F) {
	f.Add(appendPublish(nil, "small", Payload(time.Unix(0, 7))))
	f.Add([]byte{3, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for {
			ch, data, err := readPublish(br)
			if err != nil {
				return
			}
			if len(ch) > 255 || len(data) > maxFloorFrame {
				t.Fatalf("%d, %d bytes read", len(ch), len(data))
			}
		}
	})
}
