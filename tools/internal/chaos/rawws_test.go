package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
)

func startGateway(t *testing.T, maxConns int) *gateway.Service {
	t.Helper()
	ns := natstest.Start(t)
	cfg := gatewaytest.Config(ns.URL(), "gw-raw")
	cfg.MaxConns, cfg.SendQueue, cfg.MaxSubs, cfg.ReplayWindow = maxConns, 64, 10, 16
	cfg.PingInterval, cfg.PongDeadline = 200*time.Millisecond, 200*time.Millisecond
	return gatewaytest.Start(t, cfg)
}

// TestRawConnIsClosedAsStale: a connection that never reads (so never
// answers a ping) is closed by a real gateway with 4000, and a second
// connection past the cap is refused with 503.
func TestRawConnIsClosedAsStale(t *testing.T) {
	gw := startGateway(t, 1)
	ctx := context.Background()
	c, status, err := dialRaw(ctx, gw.URL(), 4096)
	if err != nil || status != 101 {
		t.Fatalf("dial: %d %v", status, err)
	}
	defer c.Close()
	if err := c.writeText([]byte(`{"op":"subscribe","id":1,"channel":"raw"}`)); err != nil {
		t.Fatal(err)
	}
	_, status, err = dialRaw(ctx, gw.URL(), 0)
	if !errors.Is(err, ErrUpgrade) || status != 503 {
		t.Fatalf("second connection past max_conns 1: %d %v", status, err)
	}
	if code := c.closeCode(5 * time.Second); code != 4000 {
		t.Fatalf("close code %d, want 4000 stale", code)
	}
}

func TestReadFrame(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		op      byte
		payload string
		bad     bool
	}{
		{"short text", []byte{0x81, 2, 'h', 'i'}, 1, "hi", false},
		{"close 4002", []byte{0x88, 2, 0x0f, 0xa2}, 8, "\x0f\xa2", false},
		{"16-bit length", append([]byte{0x82, 126, 0, 3}, "abc"...), 2, "abc", false},
		{"truncated", []byte{0x81, 5, 'a'}, 0, "", true},
		{"huge length", []byte{0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0}, 0, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, p, err := readFrame(bufio.NewReader(bytes.NewReader(c.in)))
			if c.bad != (err != nil) {
				t.Fatalf("err %v", err)
			}
			if !c.bad && (op != c.op || string(p) != c.payload) {
				t.Fatalf("op %d payload %q", op, p)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0x81, 2, 'h', 'i'})
	f.Add([]byte{0x88, 2, 0x0f, 0xa0})
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for range 8 {
			if _, _, err := readFrame(br); err != nil {
				return
			}
		}
	})
}
