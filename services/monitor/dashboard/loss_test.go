//go:build unix

package dashboard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/monitor/dashboard"
)

// restartable is an HTTP server that can go away and come back on the
// same address, as a restarted monitor does.
type restartable struct {
	t    *testing.T
	addr string
	h    http.Handler
	srv  *http.Server
	done chan struct{}
}

func (r *restartable) start() {
	r.t.Helper()
	var ln net.Listener
	var err error
	natstest.Eventually(r.t, 10*time.Second, func() bool {
		ln, err = net.Listen("tcp", r.addr)
		return err == nil
	}, "listen on %s again", r.addr)
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: r.h, ReadHeaderTimeout: 5 * time.Second}
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.t.Errorf("serve: %v", err)
		}
	}()
}

func (r *restartable) stop() {
	_ = r.srv.Close() // drops the open streams, like a crash
	<-r.done
}

// TestBrowserShowsLostStreamAndNATS checks what the page says when its
// live stream breaks (the server goes away and comes back) and when the
// dashboard loses NATS (and gets it back).
func TestBrowserShowsLostStreamAndNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("\n\n*** SKIPPED: no chromium binary found; the dashboard browser test did NOT run. Install it: apt-get install -y chromium\n")
	}
	ns := natstest.Start(t)
	nc := ns.Conn(nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	d := dashboard.New(dashboard.Config{}, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nc) }()
	t.Cleanup(func() { cancel(); <-done })
	hs := &restartable{t: t, addr: "127.0.0.1:0", h: d.Handler()}
	hs.start()
	t.Cleanup(hs.stop)

	bctx := browser(t, chromium)
	badge := func(what, id, text string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 25*time.Second)
		defer cancel()
		expr := `document.getElementById("` + id + `").textContent.includes("` + text + `")`
		if _, err := chromedp.Run(sctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			shot(t, bctx, "dashboard-loss-failed.png")
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("seen: %s", what)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+hs.addr+"/")); err != nil {
		t.Fatal(err)
	}
	badge("stream live", "stream-badge", "live")
	badge("NATS connected", "nats-badge", "NATS connected")
	badge("no monitor is said", "banners", "is it running?")

	hs.stop()
	badge("stream lost", "stream-badge", "reconnecting")
	badge("lost stream explained", "banners", "Live updates lost")
	hs.start()
	badge("stream back", "stream-badge", "live")

	ns.Stop()
	badge("NATS lost", "nats-badge", "NATS unavailable")
	badge("NATS loss explained", "banners", "no NATS connection")
	shot(t, bctx, "dashboard-nats-lost.png")
	ns.Restart()
	badge("NATS back", "nats-badge", "NATS connected")
	noScriptErrors(t, bctx)
}
