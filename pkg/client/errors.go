package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsheal/wsheal/pkg/events/frame"
)

// Sentinel errors. Errors returned by the client wrap one of them; test
// with errors.Is.
var (
	// ErrConfig: the Config is unusable (no URL, bad URL, bad durations).
	ErrConfig = errors.New("client: invalid config")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("client: closed")
	// ErrStopped: the server ended the session with a terminal close code
	// (41xx or 1000) or refused the upgrade; the client does not reconnect.
	ErrStopped = errors.New("client: stopped by server")
	// ErrUnauthorized: the token is missing, invalid or expired (close
	// 4101/4102 or HTTP 401). It also matches ErrStopped.
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrForbidden: the token is valid but not allowed (close 4103, HTTP 403,
	// or a forbidden error frame).
	ErrForbidden = errors.New("client: forbidden")
	// ErrServer: the server answered a request with an error frame.
	ErrServer = errors.New("client: server error")
	// ErrStale: no ping or traffic from the server within the ping interval
	// plus the grace period; the connection is treated as dead.
	ErrStale = errors.New("client: connection stale")
	// ErrHint: the server asked the client to reconnect (reconnect frame).
	ErrHint = errors.New("client: reconnect requested by server")
	// ErrSubscribed: the channel already has a subscription on this client.
	ErrSubscribed = errors.New("client: already subscribed")
	// ErrInvalid: a bad channel name or publish payload.
	ErrInvalid = errors.New("client: invalid argument")
	// ErrNoHello: the server did not send its hello frame in time.
	ErrNoHello = errors.New("client: no hello from server")
)

// CloseError is a close frame received from the server.
type CloseError struct {
	Code   int
	Reason string
}

// Error names the code from frame.CloseCodes.
func (e *CloseError) Error() string {
	name := "unknown"
	for _, ci := range frame.CloseCodes {
		if ci.Code == e.Code {
			name = ci.Name
			break
		}
	}
	if e.Reason == "" {
		return fmt.Sprintf("client: closed by server: %d (%s)", e.Code, name)
	}
	return fmt.Sprintf("client: closed by server: %d (%s): %s", e.Code, name, e.Reason)
}

// Terminal reports whether the code tells the client to stop.
func (e *CloseError) Terminal() bool { return !frame.ShouldReconnect(e.Code) }

// Is matches ErrStopped for terminal codes, and ErrUnauthorized or
// ErrForbidden for the auth codes.
func (e *CloseError) Is(target error) bool {
	switch target {
	case ErrStopped:
		return e.Terminal()
	case ErrUnauthorized:
		return e.Code == frame.CloseUnauthorized || e.Code == frame.CloseTokenExpired
	case ErrForbidden:
		return e.Code == frame.CloseForbidden
	}
	return false
}

// HandshakeError is an upgrade refused with an HTTP status.
type HandshakeError struct {
	Status int
	URL    string
	// RetryAfter is the server's Retry-After (admission control), if any.
	RetryAfter time.Duration
}

// Error says which status refused the upgrade.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("client: upgrade of %s refused: HTTP %d", e.URL, e.Status)
}

// Terminal: 400, 401 and 403 would fail again; other statuses (429, 503,
// 404 during a deploy) are retried with backoff.
func (e *HandshakeError) Terminal() bool {
	return e.Status == 400 || e.Status == 401 || e.Status == 403
}

// Is matches ErrStopped for terminal statuses and ErrUnauthorized or
// ErrForbidden for 401 and 403.
func (e *HandshakeError) Is(target error) bool {
	switch target {
	case ErrStopped:
		return e.Terminal()
	case ErrUnauthorized:
		return e.Status == 401
	case ErrForbidden:
		return e.Status == 403
	}
	return false
}

// ServerError is an error frame answering a request.
type ServerError struct {
	Code    string // frame.Code*
	Message string
}

// Error carries the server's code and message.
func (e *ServerError) Error() string {
	return fmt.Sprintf("client: server error %s: %s", e.Code, e.Message)
}

// Retryable reports whether the request may succeed if sent again.
func (e *ServerError) Retryable() bool {
	return e.Code == frame.CodeUnavailable || e.Code == frame.CodeRateLimited
}

// Is matches ErrServer, and ErrForbidden for the forbidden code.
func (e *ServerError) Is(target error) bool {
	return target == ErrServer || (target == ErrForbidden && e.Code == frame.CodeForbidden)
}

// terminal reports whether err ends the client.
func terminal(err error) bool { return errors.Is(err, ErrStopped) }
