package dashboard_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

// TestStreamOutlivesServerTimeouts: the event stream keeps delivering
// past the server's read and write timeouts, which bound every other
// request.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	srv := natstest.Start(t)
	d := dashboard.New(dashboard.Config{Sample: 100 * time.Millisecond, Timeout: time.Second}, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.Run(ctx, srv.Conn()) }()
	natstest.Eventually(t, 10*time.Second, d.Live, "dashboard not live")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := service.HTTP{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, IdleTimeout: time.Second}.
		Server(d.Handler(), time.Second)
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	frames := openStream(t, ctx, "http://"+ln.Addr().String())
	start := time.Now()
	waitFrame(t, frames, 5*time.Second, func(f frame) bool { return f.event == "hello" })
	waitFrame(t, frames, 10*time.Second, func(f frame) bool {
		return f.event == "tick" && time.Since(start) > 4*300*time.Millisecond
	})
	if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("page beside the stream: %v %v", resp, err)
	}
}
