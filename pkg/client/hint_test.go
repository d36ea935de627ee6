package client

import (
	"context"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// TestHintHonoured: a reconnect frame moves the client to the named URL
// no earlier than after_ms, whether the server leaves the socket open or
// closes it at once (as a draining gateway does); subscriptions resume
// there without loss, and the two sockets never overlap.
func TestHintHonoured(t *testing.T) {
	for _, tc := range []struct {
		name      string
		closeCode uint16
	}{{"socket left open", 0}, {"closed with 4003 at once", frame.CloseDrain}} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub()
			p1 := startPeer(t, hub, "n1")
			p2 := startPeer(t, hub, "n2")
			rec := &recorder{}
			c := dialT(t, testConfig(rec, p1.URL))
			if _, err := c.Subscribe(context.Background(), "room", rec.handle); err != nil {
				t.Fatal(err)
			}
			publishN(hub, "room", 1, 3)
			eventually(t, 5*time.Second, func() bool { return rec.count() == 3 }, "first 3")

			const after = 300 * time.Millisecond
			sent := time.Now()
			p1.send((&frame.Server{Op: frame.OpReconnect, AfterMS: after.Milliseconds(), URL: p2.URL, Reason: "drain"}).Encode())
			if tc.closeCode != 0 {
				p1.closeAll(tc.closeCode)
			}
			publishN(hub, "room", 4, 6)
			eventually(t, 5*time.Second, func() bool { return p2.acceptCount() == 1 && c.Connected() }, "moved to n2")
			publishN(hub, "room", 7, 9)
			eventually(t, 5*time.Second, func() bool { return rec.count() >= 9 }, "all 9")

			_, data, _, _ := rec.snapshot()
			wantInOrder(t, data, 9)
			conn := rec.kinds(Connected)
			if len(conn) != 2 || conn[1].Node != "n2" || conn[1].URL != p2.URL {
				t.Fatalf("connected states %+v, want n1 then n2", conn)
			}
			if moved := conn[1].Time.Sub(sent); moved < after {
				t.Fatalf("moved after %v, before the hint's %v", moved, after)
			}
			re := rec.kinds(Reconnecting)
			if len(re) != 1 || !re[0].Hinted || re[0].Delay > after {
				t.Fatalf("reconnecting states %+v, want one hinted within %v", re, after)
			}
			if p1.acceptCount() != 1 {
				t.Fatalf("n1 accepts %d, want 1", p1.acceptCount())
			}
			oneAtATime(t, rec, hub)
		})
	}
}
