package pool

import (
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
)

func TestByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4194304", 4 << 20, true}, {"4MiB", 4 << 20, true}, {"512 KiB", 512 << 10, true},
		{"1GiB", 1 << 30, true}, {"2MB", 2 << 20, true}, {"0", 0, true},
		{"-1", 0, false}, {"lots", 0, false}, {"1.5GiB", 0, false},
	}
	for _, tc := range cases {
		var b ByteSize
		err := b.Decode(tc.in)
		if (err == nil) != tc.ok || (tc.ok && int64(b) != tc.want) {
			t.Errorf("%q: %d, %v", tc.in, b, err)
		}
	}
}

// TestLimitsValidate: the defaults are valid, and each bad value fails
// naming its variable under the prefix.
func TestLimitsValidate(t *testing.T) {
	var def Limits
	if err := envconfig.Process("TEST", &def); err != nil {
		t.Fatal(err)
	}
	if err := def.Validate("TEST"); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		env   string
		tweak func(*Limits)
	}{
		{"MAX_CONNS", func(l *Limits) { l.MaxConns = -1 }},
		{"ACCEPT_RATE", func(l *Limits) { l.AcceptRate = 0 }},
		{"ACCEPT_BURST", func(l *Limits) { l.AcceptBurst = 0 }},
		{"MAX_MESSAGE", func(l *Limits) { l.MaxMessage = 255 }},
		{"INBOUND_RATE", func(l *Limits) { l.InboundRate = -1 }},
		{"INBOUND_BURST", func(l *Limits) { l.InboundBurst = 0 }},
		{"SEND_QUEUE", func(l *Limits) { l.SendQueue = 7 }},
		{"SEND_QUEUE_BYTES", func(l *Limits) { l.SendQueueBytes = 1023 }},
		{"WRITE_TIMEOUT", func(l *Limits) { l.WriteTimeout = time.Millisecond }},
		{"MEMORY_LIMIT", func(l *Limits) { l.MemoryLimit = 1 << 20 }},
		{"PING_INTERVAL", func(l *Limits) { l.PingInterval = time.Millisecond }},
		{"PONG_DEADLINE", func(l *Limits) { l.PongDeadline = 0 }},
		{"IDLE_TIMEOUT", func(l *Limits) { l.IdleTimeout = -time.Second }},
		{"HANDSHAKE_TIMEOUT", func(l *Limits) { l.HandshakeTimeout = 10 * time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.env, func(t *testing.T) {
			l := def
			tc.tweak(&l)
			err := l.Validate("TEST")
			if err == nil || !strings.HasPrefix(err.Error(), "TEST_"+tc.env+": ") {
				t.Fatalf("err = %v, want one naming TEST_%s", err, tc.env)
			}
		})
	}
	zero := def
	zero.SendQueueBytes, zero.WriteTimeout = 0, 0
	if err := zero.Validate("TEST"); err != nil {
		t.Fatalf("zero bytes and write timeout (New fills them): %v", err)
	}
}
