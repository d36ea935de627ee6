package edge

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzPeersOf: any X-Forwarded-For / X-Real-IP from a trusted proxy yields
// a valid address or the socket's, never a trusted proxy named by a
// header, and never panics; from an untrusted socket headers are ignored.
func FuzzPeersOf(f *testing.F) {
	f.Add("10.0.0.1:80", "198.51.100.7, 10.9.9.9", "")
	f.Add("10.0.0.1:80", "", "2001:db8::1")
	f.Add("203.0.113.9:1", "1.2.3.4", "5.6.7.8")
	f.Add("10.0.0.1:80", ",,,", "junk")
	f.Add("[::ffff:10.0.0.1]:80", "::ffff:1.2.3.4", "")
	peers, err := NewPeers("10.0.0.0/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff, xri string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Real-IP", xri)
		got := peers.Of(r)
		sock := SocketAddr(remote)
		if !sock.IsValid() || !peers.Trusted(sock) {
			if got != sock {
				t.Fatalf("untrusted socket %q: got %v, want the socket's %v", remote, got, sock)
			}
			return
		}
		real, _ := netip.ParseAddr(strings.TrimSpace(xri))
		fromXFF := got != sock && got != real.Unmap()
		if !got.IsValid() || (fromXFF && peers.Trusted(got)) {
			t.Fatalf("trusted socket: got %v from X-Forwarded-For %q", got, xff)
		}
	})
}

// FuzzOrigins: any Origin header is allowed or refused without a panic;
// a list of one origin allows exactly that origin (or the node's own).
func FuzzOrigins(f *testing.F) {
	f.Add("https://app.example.com", "https://app.example.com", "gw:8080")
	f.Add("https://app.example.com", "http://gw:8080", "gw:8080")
	f.Add("*", "null", "gw")
	f.Add("", "%zz://", "")
	f.Fuzz(func(t *testing.T, list, origin, host string) {
		o := NewOrigins(list)
		r := &http.Request{Header: http.Header{}, Host: host}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if o.Open() && !o.Allow(r) {
			t.Fatal("an open list refused an origin")
		}
		if r.Header.Get("Origin") == "" && !o.Allow(r) {
			t.Fatal("a request without Origin was refused")
		}
	})
}
