package session

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

func TestHelloEncoding(t *testing.T) {
	cases := []struct{ name, node string }{
		{"plain", "gw-1"}, {"quote", `gw"1`}, {"backslash", `gw\1`}, {"unicode", "gw-é"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Config{Node: tc.node}, nil, func() time.Duration { return 1500 * time.Millisecond }, nil, zerolog.Nop())
			f, err := frame.DecodeServer(h.hello("QnF8dhzBa1Kx2TtY0cU4vA"))
			if err != nil {
				t.Fatal(err)
			}
			if f.Op != frame.OpHello || f.Node != tc.node || f.Session != "QnF8dhzBa1Kx2TtY0cU4vA" ||
				f.Version != frame.ProtocolVersion || f.PingIntervalMS != 1500 {
				t.Fatalf("hello = %+v", f)
			}
		})
	}
}

func TestReconnectHint(t *testing.T) {
	f, err := frame.DecodeServer(Reconnect(25, "ws://gw-2:8080/ws", "drain"))
	if err != nil || f.Op != frame.OpReconnect || f.AfterMS != 25 || f.URL != "ws://gw-2:8080/ws" || f.Reason != "drain" {
		t.Fatalf("hint = %+v %v", f, err)
	}
}
