package webclient_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest/clientcases"
)

// hostilePeer is a WebSocket server that answers wsheal.js's subscribe
// with malformed, mistyped, unknown and repeated frames around the good
// ones. It stands for a broken or newer server: the client must ignore
// what it cannot read and deliver the good messages once, in order.
type hostilePeer struct {
	gws.BuiltinEventHandler
}

// hostileFrames are sent, in order, before the subscribe reply.
var hostileFrames = []string{
	`not json`,
	`[]`,
	`null`,
	`"hello"`,
	`{"op":"msg"}`,
	`{"op":"msg","channel":"c","seq":"1","data":"string seq"}`,
	`{"op":"msg","channel":"c","seq":-1,"data":"negative"}`,
	`{"op":"msg","channel":"c","seq":1.5,"data":"fraction"}`,
	`{"op":"msg","channel":"c","seq":1,"data":1,"epoch":42}`,
	`{"op":"msg","channel":"other","seq":1,"data":"not subscribed"}`,
	`{"op":"pos","channel":"other","seq":1}`,
	`{"op":"pos","channel":"c","seq":"1"}`,
	`{"op":"future","anything":[1,2,3]}`,
	`{"op":"reply","id":999,"seq":1}`,
	`{"op":"pong","id":"x"}`,
	`{"op":"msg","channel":"c","seq":1,"data":1}`,
	`{"op":"msg","channel":"c","seq":1,"data":1}`,
	`{"op":"msg","channel":"c","seq":2,"data":2,"extra":{"new":"field"}}`,
	`{"op":"msg","channel":"c","seq":2,"data":2}`,
}

func (hostilePeer) OnOpen(c *gws.Conn) {
	_ = c.WriteString(`{"op":"hello","node":"hostile","session":"s","version":1,"ping_interval_ms":"soon","epoch":"e1"}`)
}

func (hostilePeer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer func() { _ = m.Close() }()
	var f struct {
		Op string `json:"op"`
		ID uint64 `json:"id"`
	}
	if json.Unmarshal(m.Bytes(), &f) != nil {
		return
	}
	id := strconv.FormatUint(f.ID, 10)
	switch f.Op {
	case "subscribe":
		_ = c.WriteMessage(gws.OpcodeBinary, []byte{0xff, 0x00})
		for _, fr := range hostileFrames {
			_ = c.WriteString(fr)
		}
		_ = c.WriteString(`{"op":"reply","id":` + id + `,"channel":"c","seq":2,"epoch":"e1"}`)
		_ = c.WriteString(`{"op":"msg","channel":"c","seq":3,"data":3}`)
	case "publish":
		_ = c.WriteString(`{"op":"error","id":` + id + `,"code":"forbidden","message":"no"}`)
	case "ping":
		_ = c.WriteString(`{"op":"pong","id":` + id + `}`)
	}
}

// TestHostileServerFrames: wsheal.js (in Node) against a server that sends
// garbage: it keeps the connection, reports bad frames as errors, ignores
// unknown ops, drops duplicates and delivers 1, 2, 3 once and in order.
func TestHostileServerFrames(t *testing.T) {
	d, rec := dialStandIn(t, hostilePeer{})
	if _, err := d.Publish("c", json.RawMessage(`1`)); err == nil || !strings.HasPrefix(err.Error(), "forbidden") {
		t.Fatalf("publish answered forbidden: got %v", err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		msgs, _, _ := rec.Snapshot("c")
		return len(msgs) >= 3
	}, "three messages delivered")
	msgs, states, _ := rec.Snapshot("c")
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Data))
	}
	if strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("delivered %v, want 1,2,3", got)
	}
	for _, s := range states {
		if s.State != "connecting" && s.State != "connected" {
			t.Fatalf("the connection did not survive the frames: %v", states)
		}
	}
	if other, _, _ := rec.Snapshot("other"); len(other) != 0 {
		t.Fatalf("delivered a message of a channel not subscribed: %v", other)
	}
}

// dialStandIn serves peer as a stand-in gateway over a real WebSocket and
// has wsheal.js (in Node) dial it and subscribe to channel c.
func dialStandIn(t *testing.T, peer gws.Event) (*nodeDriver, *clientcases.Record) {
	t.Helper()
	node := nodeCmd(t)
	up := gws.NewUpgrader(peer, &gws.ServerOption{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	}))
	t.Cleanup(srv.Close)
	d := startNodeDriver(t, node)
	t.Cleanup(d.Close)
	rec := &clientcases.Record{}
	if err := d.Dial(clientcases.Dial{URLs: []string{"ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"}}, rec); err != nil {
		t.Fatal(err)
	}
	if err := d.Subscribe("c"); err != nil {
		t.Fatal(err)
	}
	return d, rec
}
