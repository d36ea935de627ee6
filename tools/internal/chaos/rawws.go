package chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// ErrUpgrade is returned when a gateway refuses the WebSocket upgrade.
var ErrUpgrade = errors.New("chaos: upgrade refused")

// rawConn is a WebSocket connection driven by hand, to misbehave as no
// real client would: never read (half-open, slow consumer).
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

// dialRaw opens a TCP connection (with a receive buffer of rcvBuf bytes
// when positive, set before the handshake so the window stays small) and
// completes the WebSocket upgrade. A refusal returns the HTTP status
// wrapped in ErrUpgrade.
func dialRaw(ctx context.Context, wsURL string, rcvBuf int) (*rawConn, int, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, 0, err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			return errors.Join(err, serr)
		}
	}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, 0, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	path := u.RequestURI()
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, u.Host, base64.StdEncoding.EncodeToString(key))
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, 0, err
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	_ = c.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, resp.StatusCode, fmt.Errorf("%w: HTTP %d", ErrUpgrade, resp.StatusCode)
	}
	return &rawConn{c: c, br: br}, resp.StatusCode, nil
}

// writeText sends one masked text frame.
func (r *rawConn) writeText(p []byte) error {
	hdr := []byte{0x81}
	switch n := len(p); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= 0xffff:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	hdr = append(hdr, mask...)
	body := make([]byte, len(p))
	for i := range p {
		body[i] = p[i] ^ mask[i%4]
	}
	_ = r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.c.Write(append(hdr, body...))
	return err
}

// stillOpen is closeCode's answer for a connection the node did not close.
const stillOpen = -1

// closeCode reads every frame until the connection ends and returns the
// code of the close frame received, 0 if it ended without one, stillOpen
// if it did not end within timeout.
func (r *rawConn) closeCode(timeout time.Duration) int {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	code := 0
	for {
		op, payload, err := readFrame(r.br)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return stillOpen
			}
			return code
		}
		if op == 0x8 && len(payload) >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
		}
	}
}

// readFrame reads one unmasked server frame.
func readFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("chaos: frame of %d bytes", n)
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}

// Close ends the connection.
func (r *rawConn) Close() error { return r.c.Close() }
