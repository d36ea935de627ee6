package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTarget(t *testing.T) {
	cases := []struct{ in, hostport, healthz string }{
		{"ws://127.0.0.1:8080/ws", "127.0.0.1:8080", "http://127.0.0.1:8080/healthz"},
		{"wss://gw.example.com/ws", "gw.example.com:443", "https://gw.example.com:443/healthz"},
		{"ws://gw:80", "gw:80", "http://gw:80/healthz"},
		{"http://[::1]:9/x", "[::1]:9", "http://[::1]:9/healthz"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			hp, hz, err := Target(c.in)
			if err != nil || hp != c.hostport || hz != c.healthz {
				t.Fatalf("got %q %q %v", hp, hz, err)
			}
		})
	}
	if _, _, err := Target("not a url"); err == nil {
		t.Fatal("want an error for a URL without host")
	}
}

func TestCheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()

	// A listener nobody accepts from: the kernel completes handshakes
	// from the backlog, as for a stopped process.
	wedged, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wedged.Close()

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	_ = closed.Close()

	cases := []struct {
		name            string
		url             string
		accepts, httpOK bool
	}{
		{"serving", "ws" + ok.URL[len("http"):] + "/ws", true, true},
		{"wedged", "ws://" + wedged.Addr().String() + "/ws", true, false},
		{"crashed", "ws://" + refused + "/ws", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Check(context.Background(), c.url, 300*time.Millisecond)
			if p.Accepts != c.accepts || p.HTTPOK != c.httpOK {
				t.Fatalf("probe %+v", p)
			}
		})
	}
}
