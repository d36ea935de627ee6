package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsheal/wsheal/cmd/wsheal/devtest"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/auth"
)

// hostileSecret signs the tokens of the hostile suite's gateways.
const hostileSecret = "hostile-suite-secret-0123456789"

// gwProc is a `wsheal serve gateway` process started by a test.
type gwProc struct {
	addr string
	cmd  *exec.Cmd
	out  *devtest.Log
}

// startGateway runs a gateway process with AUTH=jwt against ns and extra
// WSHEAL_GATEWAY_* settings, and waits until /healthz answers.
func startGateway(t *testing.T, ns *natstest.Server, env ...string) *gwProc {
	t.Helper()
	bin, err := devtest.Build()
	if err != nil {
		t.Fatal(err)
	}
	port := devtest.FreePorts(t, 1)
	g := &gwProc{addr: fmt.Sprintf("127.0.0.1:%d", port), out: &devtest.Log{}}
	g.cmd = exec.Command(bin, "serve", "gateway")
	g.cmd.Env = append(os.Environ(),
		"WSHEAL_GATEWAY_NATS_URL="+ns.URL(), "WSHEAL_GATEWAY_NODE=gw-hostile",
		"WSHEAL_GATEWAY_LISTEN="+g.addr, "WSHEAL_GATEWAY_AUTH=jwt",
		"WSHEAL_GATEWAY_JWT_SECRET="+hostileSecret, "WSHEAL_GATEWAY_LOG_LEVEL=warn")
	g.cmd.Env = append(g.cmd.Env, env...)
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = g.cmd.Process.Kill()
		_ = g.cmd.Wait()
		if t.Failed() {
			t.Logf("gateway output:\n%s", g.out)
		}
	})
	natstest.Eventually(t, 20*time.Second, func() bool { return g.get("/healthz", "127.0.0.1") == http.StatusOK },
		"gateway not serving /healthz:\n%s", g.out)
	return g
}

// rss is the gateway's resident set in bytes, from /proc/<pid>/status.
func (g *gwProc) rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// get requests path from the local address from and returns the status
// (0 if the request failed within 3 s).
func (g *gwProc) get(path, from string) int {
	resp, err := httpFrom(from).Get("http://" + g.addr + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// metric reads one unlabelled series of the gateway's /metrics.
func (g *gwProc) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := httpFrom("127.0.0.1").Get("http://" + g.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// httpFrom is a client whose sockets leave from the loopback address from
// (127.0.0.x): each address is another peer to the gateway.
func httpFrom(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 3 * time.Second}
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// token signs a valid client token (one hour).
func token(t *testing.T) string {
	t.Helper()
	c := auth.Claims{Subs: []string{"*"}, Pubs: []string{"*"}}
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	s, err := auth.Sign(hostileSecret, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawWS is a WebSocket client written from RFC 6455 that does whatever
// the test says: never read, send any control frame, forge pongs.
type rawWS struct {
	c  net.Conn
	br *bufio.Reader
}

// dialWS upgrades /ws?token=tok from the local address from, with the
// extra headers; it returns the HTTP status and, on 101, the connection.
func dialWS(from, addr, tok string, header http.Header) (*rawWS, int, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 3 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/ws?token="+tok, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	for k, v := range header {
		req.Header[k] = v
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, 0, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	_ = c.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, resp.StatusCode, nil
	}
	return &rawWS{c: c, br: br}, resp.StatusCode, nil
}

// wsFrame encodes a masked client frame (mask key zero: the payload is
// sent as is, which RFC 6455 allows).
func wsFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, 0, 0, 0, 0)
	return append(b, payload...)
}

func (w *rawWS) write(op byte, payload []byte) error {
	_, err := w.c.Write(wsFrame(op, payload))
	return err
}

// readFrame reads one server frame (never masked).
func (w *rawWS) readFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(w.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		_, err = io.ReadFull(w.br, e[:])
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		_, err = io.ReadFull(w.br, e[:])
		n = binary.BigEndian.Uint64(e[:])
	}
	if err != nil || n > 1<<24 {
		return 0, nil, errors.Join(err, errors.New("frame too long"))
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(w.br, payload)
	return h[0] & 0x0f, payload, err
}

// closeCode reads until the server's close frame and returns its code
// (0 if the socket ended without one, -1 past the timeout).
func (w *rawWS) closeCode(timeout time.Duration) int {
	_ = w.c.SetReadDeadline(time.Now().Add(timeout))
	for {
		op, p, err := w.readFrame()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return -1
		case err != nil:
			return 0
		case op == 8 && len(p) >= 2:
			return int(binary.BigEndian.Uint16(p))
		case op == 8:
			return 1005
		}
	}
}

// pingFlood is n masked ping frames of 125 bytes in one buffer.
func pingFlood(n int) []byte {
	one := wsFrame(0x9, bytes.Repeat([]byte{'p'}, 125))
	return bytes.Repeat(one, n)
}
