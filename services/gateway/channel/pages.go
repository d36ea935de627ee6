package channel

import (
	"context"
	"sync"
	"time"
)

// Replays of one channel that start from the same sequence at about the
// same time share their first page: when a node restarts, or clients
// fail over to it, the clients of a channel come back within a second of
// each other from the same position, and a page read for the first of
// them serves the others, instead of one direct get each.
//
// A shared page is what a direct get read at its snapshot; a replay that
// uses it later works from that snapshot exactly as from a slow read: it
// checks retention with a stream state read after the snapshot, and reads
// on while the live flow is ahead of the page.

const (
	// pageReuse is how long a page read for a replay serves others.
	pageReuse = 250 * time.Millisecond
	// pageCacheBytes bounds the encoded bytes of the pages kept.
	pageCacheBytes = 32 << 20
)

type pageKey struct {
	channel string
	from    uint64
}

// pageCall is a page read in flight (done open) or done.
type pageCall struct {
	done  chan struct{}
	p     page
	read  time.Time // after the page's snapshot
	err   error
	bytes int
}

// pageCache holds the page reads of replays, shared while in flight and
// for pageReuse after.
type pageCache struct {
	mu    sync.Mutex
	calls map[pageKey]*pageCall
	bytes int
}

// sharedPage returns the page of channel from sequence from, as a page
// read that began less than pageReuse ago, or one in flight, or a new
// read, and the time after its snapshot. The read itself is not bound to
// ctx (others may wait for it); the wait is.
func (h *Hub) sharedPage(ctx context.Context, channel string, from uint64) (page, time.Time, error) {
	k := pageKey{channel, from}
	pc := &h.pages
	pc.mu.Lock()
	c := pc.calls[k]
	if c == nil || c.expired(time.Now()) {
		if c != nil {
			pc.dropLocked(k, c)
		}
		c = &pageCall{done: make(chan struct{})}
		if pc.calls == nil {
			pc.calls = map[pageKey]*pageCall{}
		}
		pc.calls[k] = c
		pc.mu.Unlock()
		go h.readShared(k, c)
	} else {
		pc.mu.Unlock()
		h.pageShares.Add(1)
	}
	select {
	case <-c.done:
		return c.p, c.read, c.err
	case <-ctx.Done():
		return page{}, time.Time{}, ctx.Err()
	}
}

// readShared runs c; a failed read is forgotten at once, one that would
// take the cache past its bound as soon as its waiters have it, any other
// after pageReuse.
func (h *Hub) readShared(k pageKey, c *pageCall) {
	c.p, c.err = h.readPage(context.Background(), k.channel, k.from, 0)
	c.read = time.Now()
	for _, e := range c.p.entries {
		c.bytes += len(e.frame)
	}
	pc := &h.pages
	pc.mu.Lock()
	if c.err != nil || pc.bytes+c.bytes > pageCacheBytes {
		if pc.calls[k] == c {
			delete(pc.calls, k)
		}
	} else {
		pc.bytes += c.bytes
		time.AfterFunc(pageReuse, func() {
			pc.mu.Lock()
			defer pc.mu.Unlock()
			pc.dropLocked(k, c)
		})
	}
	pc.mu.Unlock()
	close(c.done)
}

// expired: done, and read more than pageReuse before now.
func (c *pageCall) expired(now time.Time) bool {
	select {
	case <-c.done:
		return now.Sub(c.read) > pageReuse
	default:
		return false
	}
}

// dropLocked forgets the done call c of k.
func (pc *pageCache) dropLocked(k pageKey, c *pageCall) {
	if pc.calls[k] == c {
		delete(pc.calls, k)
		pc.bytes -= c.bytes
	}
}
