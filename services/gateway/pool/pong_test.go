package pool

import (
	"encoding/binary"
	"testing"
	"time"
)

// A ping outstanding while a long replay held the connection gets its
// deadline restarted (Rested); the pong that echoes the ping's payload
// must still answer it. Matching the pong against the restarted deadline
// instead closed every resumed connection as stale.
func TestPongAnswersAPingWhoseDeadlineWasRestarted(t *testing.T) {
	c := &Conn{}
	sent := time.Now().Add(-3 * time.Second).UnixNano()
	c.pingID.Store(sent)
	c.pingSent.Store(sent)
	c.Rested()
	if c.pingSent.Load() == sent {
		t.Fatal("Rested did not restart the pong deadline")
	}
	var other [8]byte
	binary.BigEndian.PutUint64(other[:], uint64(c.pingSent.Load()))
	if _, ok := c.acceptPong(other[:], time.Now().UnixNano()); ok {
		t.Fatal("a pong echoing the restarted deadline, not the ping, was accepted")
	}
	var echo [8]byte
	binary.BigEndian.PutUint64(echo[:], uint64(sent))
	rtt, ok := c.acceptPong(echo[:], time.Now().UnixNano())
	if !ok {
		t.Fatal("the pong echoing the ping's payload was refused after Rested")
	}
	if rtt < 3*time.Second {
		t.Fatalf("round trip %v: measured from the restarted deadline, not the ping", rtt)
	}
	if c.pingSent.Load() != 0 || c.pingID.Load() != 0 {
		t.Fatal("the answered ping is still outstanding")
	}
	if _, ok := c.acceptPong(echo[:], time.Now().UnixNano()); ok {
		t.Fatal("a second pong answered the same ping")
	}
}
