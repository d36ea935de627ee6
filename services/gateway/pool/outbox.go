package pool

import (
	"encoding/binary"
	"net"
	"runtime"
	"sync"
)

// outbox batches a connection's queued text frames: every frame queued
// since the last write leaves in one write system call. Under fan-out the
// write per frame was most of the node's CPU (one syscall per frame per
// connection); a batch costs one per connection per burst.
//
// The flush runs as a task on gws's per-connection write queue, so it
// stays ordered with pings, pongs and CloseAfter. It writes the frames
// itself (server frames are not masked; the pool never compresses) with
// one net.Conn.Write per batch: the socket's write lock keeps a batch
// whole against the writes gws makes on its own (a close frame).
type outbox struct {
	mu        sync.Mutex
	frames    [][]byte // from framesPool while frames are queued, nil otherwise
	scheduled bool     // a flush task is queued and has not taken frames yet
}

// maxBatch is the most bytes one write carries; a longer batch is split.
const maxBatch = 64 << 10

// maxKeep is the largest frames slice put back in framesPool.
const maxKeep = 1024

// framesPool holds the frame lists of outboxes between bursts: an idle
// connection keeps none, a busy one allocates none.
var framesPool = sync.Pool{New: func() any {
	f := make([][]byte, 0, 16)
	return &f
}}

var batchBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 16<<10)
	return &b
}}

// enqueue queues b after every frame queued before it and makes sure a
// flush will write it. The caller has counted it in inflight and backlog.
func (c *Conn) enqueue(b []byte) {
	o := &c.out
	o.mu.Lock()
	if o.frames == nil {
		o.frames = *framesPool.Get().(*[][]byte)
	}
	o.frames = append(o.frames, b)
	c.scheduleLocked()
}

// enqueueRun is enqueue of each of frames, in order.
func (c *Conn) enqueueRun(frames [][]byte) {
	o := &c.out
	o.mu.Lock()
	if o.frames == nil {
		o.frames = *framesPool.Get().(*[][]byte)
	}
	o.frames = append(o.frames, frames...)
	c.scheduleLocked()
}

// scheduleLocked makes sure a flush task is queued and unlocks the
// outbox; the caller holds it.
func (c *Conn) scheduleLocked() {
	o := &c.out
	schedule := !o.scheduled
	o.scheduled = true
	o.mu.Unlock()
	if schedule {
		c.ws.Async(c.flushTask)
	}
}

// flush writes every queued frame; it runs on the write queue.
func (c *Conn) flush() {
	o := &c.out
	// Let the goroutines that are fanning out run first: under load more
	// frames join this batch; when idle this returns at once.
	runtime.Gosched()
	o.mu.Lock()
	frames := o.frames
	o.frames = nil
	o.scheduled = false
	o.mu.Unlock()
	if !c.closeSent.Load() && len(frames) > 0 {
		c.armWrite()
		if err := c.writeFrames(frames); err != nil {
			c.writeFailed(err)
		}
	}
	n, size := int32(len(frames)), int64(0)
	for _, f := range frames {
		size += int64(len(f))
	}
	c.inflight.Add(-n)
	c.queued.Add(-size)
	c.pool.backlog.Add(-int64(n))
	c.pool.backlogBytes.Add(-size)
	if frames != nil && cap(frames) <= maxKeep {
		clear(frames)
		frames = frames[:0]
		framesPool.Put(&frames)
	}
}

// writeFrames encodes frames as unmasked final text frames and writes
// them, at most maxBatch bytes per write.
func (c *Conn) writeFrames(frames [][]byte) error {
	nc := c.ws.NetConn()
	bp := batchBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	var err error
	for _, f := range frames {
		buf = appendHeader(buf, len(f))
		buf = append(buf, f...)
		if len(buf) >= maxBatch {
			if _, err = nc.Write(buf); err != nil {
				break
			}
			buf = buf[:0]
		}
	}
	if err == nil && len(buf) > 0 {
		_, err = nc.Write(buf)
	}
	if cap(buf) <= 4*maxBatch {
		*bp = buf[:0]
		batchBufs.Put(bp)
	}
	if err != nil {
		return &net.OpError{Op: "write", Err: err}
	}
	return nil
}

// appendHeader appends the header of a final, unmasked text frame of n
// payload bytes (RFC 6455 section 5.2).
func appendHeader(b []byte, n int) []byte {
	const finText = 0x81
	switch {
	case n < 126:
		return append(b, finText, byte(n))
	case n <= 0xFFFF:
		return append(b, finText, 126, byte(n>>8), byte(n))
	}
	b = append(b, finText, 127)
	return binary.BigEndian.AppendUint64(b, uint64(n))
}
