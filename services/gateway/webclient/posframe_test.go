package webclient_test

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// posPeer answers the first subscribe with messages 1 and 2, then a pos
// frame that moves the channel's position to 90 (docs/protocol.md,
// "Quiet channels"), then closes with 4007. It records the since of every
// subscribe, so the test sees where the client resumed from.
type posPeer struct {
	gws.BuiltinEventHandler
	mu     sync.Mutex
	sinces []int64 // -1: a subscribe without since
}

func (p *posPeer) OnOpen(c *gws.Conn) {
	_ = c.WriteString(`{"op":"hello","node":"quiet","session":"s","version":1,"ping_interval_ms":5000,"epoch":"e1"}`)
}

func (p *posPeer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer func() { _ = m.Close() }()
	var f struct {
		Op    string  `json:"op"`
		ID    uint64  `json:"id"`
		Since *int64  `json:"since"`
		Epoch *string `json:"epoch"`
	}
	if json.Unmarshal(m.Bytes(), &f) != nil {
		return
	}
	id := strconv.FormatUint(f.ID, 10)
	switch f.Op {
	case "subscribe":
		since := int64(-1)
		if f.Since != nil {
			since = *f.Since
		}
		p.mu.Lock()
		p.sinces = append(p.sinces, since)
		first := len(p.sinces) == 1
		p.mu.Unlock()
		if !first {
			_ = c.WriteString(`{"op":"reply","id":` + id + `,"channel":"c","seq":90,"epoch":"e1","recovered":true}`)
			return
		}
		_ = c.WriteString(`{"op":"reply","id":` + id + `,"channel":"c","seq":0,"epoch":"e1"}`)
		_ = c.WriteString(`{"op":"msg","channel":"c","seq":1,"data":1}`)
		_ = c.WriteString(`{"op":"msg","channel":"c","seq":2,"data":2}`)
		_ = c.WriteString(`{"op":"pos","channel":"c","seq":90}`)
		_ = c.WriteString(`{"op":"pos","channel":"c","seq":60}`) // behind: no effect
		// Written after the frames above, so the client reads them first;
		// 4007 asks it to start over (docs/protocol.md, close codes).
		_ = c.WriteClose(4007, []byte("restart"))
	case "ping":
		_ = c.WriteString(`{"op":"pong","id":` + id + `}`)
	}
}

func (p *posPeer) resumedFrom() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.sinces...)
}

// TestPosFrameMovesThePosition: wsheal.js (in Node) takes a pos frame as
// its channel's position, so its resume after a dropped socket asks from
// 90, not from the last message it got (2); a pos behind the position
// changes nothing.
func TestPosFrameMovesThePosition(t *testing.T) {
	peer := &posPeer{}
	_, rec := dialStandIn(t, peer)
	natstest.Eventually(t, 15*time.Second, func() bool { return len(peer.resumedFrom()) >= 2 },
		"a resume after the socket dropped")
	if s := peer.resumedFrom(); s[0] != -1 || s[1] != 90 {
		t.Fatalf("subscribes sent since %v; want a first one without since, then a resume from 90", s)
	}
	msgs, _, gaps := rec.Snapshot("c")
	if len(msgs) != 2 || len(gaps) != 0 {
		t.Fatalf("delivered %v with gaps %v; want messages 1 and 2, no gap", msgs, gaps)
	}
}
