package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/lxzan/gws"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// outcome is how one connection (or connect attempt) ended.
type outcome struct {
	err    error
	code   int
	hint   *hint
	stable bool // it stayed connected for Backoff.Stable
}

// retry is the connection goroutine's plan for the next connect.
type retry struct {
	attempt int           // failed connects since the last stable one
	delay   time.Duration // sleep before the next connect
	hinted  bool          // the server asked for this reconnect
	hintURL string
	last    error
}

// next plans the connect after out.
func (r *retry) next(out outcome, b Backoff, rnd *rand.Rand) {
	r.last = out.err
	if out.stable {
		r.attempt = 0
	}
	r.hinted, r.hintURL = false, ""
	if out.hint != nil {
		r.hinted, r.hintURL = true, out.hint.url
		r.delay = max(0, time.Until(out.hint.at))
		return
	}
	r.attempt++
	r.delay = b.Delay(r.attempt, rnd)
	var he *HandshakeError
	if errors.As(out.err, &he) && he.RetryAfter > r.delay {
		// Admission control said when: come back then, still spread.
		r.delay += he.RetryAfter
	}
}

// run is the connection goroutine: connect, read until the socket ends,
// wait, connect again. It alone dials, so there is never more than one
// socket at a time.
func (c *Client) run() {
	defer c.finish()
	var r retry
	for {
		if r.attempt > 0 || r.hinted {
			c.emit(State{Kind: Reconnecting, Attempt: r.attempt, Delay: r.delay, Hinted: r.hinted, Err: r.last})
			if c.sleep(c.ctx, r.delay) != nil {
				return
			}
		}
		out := c.connect(r.hintURL)
		if c.ctx.Err() != nil {
			return
		}
		c.setLastErr(out.err)
		if c.terminal(out.err) {
			c.stop(out.err)
			return
		}
		r.next(out, c.cfg.Backoff, c.rnd)
	}
}

func (c *Client) setLastErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// connect makes one connection and reads it until it ends.
func (c *Client) connect(hintURL string) outcome {
	target, err := c.pickURL(hintURL)
	if err != nil {
		return outcome{err: err}
	}
	c.emit(State{Kind: Connecting, URL: target})
	s := newSession(c, target)
	conn, err := c.dialWS(target, s)
	if err != nil {
		c.log.Debug().Err(err).Str("url", target).Msg("connect failed")
		return outcome{err: err}
	}
	if !c.attach(conn) {
		_ = conn.NetConn().Close()
		return outcome{err: ErrClosed}
	}
	conn.ReadLoop()
	c.detach(s)
	out := s.outcome()
	if s.helloed() {
		c.emit(State{Kind: Disconnected, URL: target, Err: out.err, Code: out.code})
	}
	return out
}

// attach registers the socket so that Close can end it.
func (c *Client) attach(conn *gws.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.raw = conn
	return true
}

// detach forgets the socket and the subscribe requests sent on it;
// publishes stay pending and are sent again on the next connection.
func (c *Client) detach(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raw = nil
	if c.live == s {
		c.live = nil
	}
	for id, r := range c.pending {
		switch r.kind {
		case kindSubscribe:
			delete(c.pending, id)
		case kindUnsubscribe:
			delete(c.pending, id)
			r.done <- result{} // the server forgot it with the connection
		}
	}
}

// pickURL chooses the next gateway: the hint's URL, else the discovery
// endpoint's answer, else the next URL of the shuffled list.
func (c *Client) pickURL(hintURL string) (string, error) {
	if hintURL != "" {
		return hintURL, nil
	}
	var derr error
	if c.cfg.Discovery != "" {
		u, err := c.discover()
		if err == nil {
			return u, nil
		}
		if c.terminal(err) {
			return "", err
		}
		derr = err
		c.log.Debug().Err(err).Msg("discovery failed")
	}
	if len(c.urls) == 0 {
		return "", derr
	}
	u := c.urls[c.next%len(c.urls)]
	c.next++
	return u, nil
}

// classify turns the end of a socket into an error and a close code.
func classify(err error) (code int, cause error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		code = int(ce.Code)
		if code == 0 {
			code = 1005 // no status received
		}
		return code, &CloseError{Code: code, Reason: string(ce.Reason)}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, fmt.Errorf("%w: %v", ErrStale, err)
	}
	if err == nil || err.Error() == "" {
		return 0, errors.New("client: connection lost")
	}
	return 0, fmt.Errorf("client: connection lost: %w", err)
}

// terminal reports whether err ends the client: a terminal close code or
// refusal, except an expired token when TokenFunc can supply a new one.
func (c *Client) terminal(err error) bool {
	var ce *CloseError
	if c.cfg.TokenFunc != nil && errors.As(err, &ce) && ce.Code == frame.CloseTokenExpired {
		return false
	}
	return terminal(err)
}
