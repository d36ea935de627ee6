package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
)

// corsGet sends method to the node's /v1/connect with the given headers
// once the node has seen its own registration (before that it answers 503).
func corsGet(t *testing.T, s *Service, method string, headers map[string]string) *http.Response {
	t.Helper()
	var resp *http.Response
	natstest.Eventually(t, 15*time.Second, func() bool {
		req, err := http.NewRequest(method, "http://"+s.Addr()+"/v1/connect", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = r.Body.Close()
		resp = r
		return r.StatusCode != http.StatusServiceUnavailable
	}, "/v1/connect never answered")
	return resp
}

func TestCORSOnConnect(t *testing.T) {
	ns := natstest.Start(t)
	listed := testConfig(ns, "gw-cors")
	listed.CORSOrigins = []string{"https://app.example", "http://localhost:3000"}
	anyCfg := testConfig(ns, "gw-any")
	anyCfg.CORSOrigins = []string{"*"}
	nodes := map[string]*Service{"listed": startNode(t, listed), "any": startNode(t, anyCfg),
		"off": startNode(t, testConfig(ns, "gw-off"))}

	preflight := map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-trace"}
	cases := []struct {
		name, node, method, origin string
		status                     int
		allow                      string
	}{
		{"allowed get", "listed", "GET", "https://app.example", 200, "https://app.example"},
		{"second origin", "listed", "GET", "http://localhost:3000", 200, "http://localhost:3000"},
		{"other origin get", "listed", "GET", "https://evil.example", 200, ""},
		{"no origin", "listed", "GET", "", 200, ""},
		{"allowed preflight", "listed", "OPTIONS", "https://app.example", 204, "https://app.example"},
		{"other preflight", "listed", "OPTIONS", "https://evil.example", 403, ""},
		{"star", "any", "GET", "https://anything.example", 200, "*"},
		{"star preflight", "any", "OPTIONS", "https://anything.example", 204, "*"},
		{"off", "off", "GET", "https://app.example", 200, ""},
		{"off preflight", "off", "OPTIONS", "https://app.example", 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.origin != "" {
				h["Origin"] = tc.origin
			}
			if tc.method == "OPTIONS" {
				for k, v := range preflight {
					h[k] = v
				}
			}
			resp := corsGet(t, nodes[tc.node], tc.method, h)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.allow {
				t.Fatalf("Allow-Origin %q, want %q", got, tc.allow)
			}
			if tc.node == "listed" && !strings.Contains(resp.Header.Get("Vary"), "Origin") {
				t.Fatalf("Vary %q: a listed-origins answer must vary by Origin", resp.Header.Get("Vary"))
			}
			if tc.status == 204 {
				if m := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "GET") {
					t.Fatalf("Allow-Methods %q", m)
				}
				if h := resp.Header.Get("Access-Control-Allow-Headers"); h != "x-trace" {
					t.Fatalf("Allow-Headers %q, want the requested x-trace", h)
				}
			}
		})
	}
}

func TestCORSOriginsValidated(t *testing.T) {
	for _, bad := range [][]string{{"app.example"}, {"https://app.example/path"}, {"ftp://x"}} {
		if err := validOrigins(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if err := validOrigins([]string{"*", "https://a.example:8443", "http://localhost:3000/"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WSHEAL_GATEWAY_CORS_ORIGINS", "https://a.example,nope")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "WSHEAL_GATEWAY_CORS_ORIGINS") {
		t.Fatalf("err %v, want one naming WSHEAL_GATEWAY_CORS_ORIGINS", err)
	}
}

// connectAnswer asks a node's /v1/connect where to go.
func connectAnswer(t *testing.T, s *Service) (url, node string) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr() + "/v1/connect")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var a struct{ URL, Node string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&a) != nil {
		t.Fatalf("/v1/connect: %s", resp.Status)
	}
	return a.URL, a.Node
}

// A node dies; its 300 clients ask /v1/connect on a survivor and connect
// where it says, all within a few heartbeats. They must land evenly on
// the two survivors (within 10% of an even split), not all on the least
// loaded one.
func TestConnectSpreadsADeadNodesClients(t *testing.T) {
	ns := natstest.Start(t)
	a := startNode(t, testConfig(ns, "gw-a"))
	startNode(t, testConfig(ns, "gw-b"))
	c := startNode(t, testConfig(ns, "gw-c"))
	natstest.Eventually(t, 15*time.Second, func() bool {
		return len(a.registry.Candidates("", time.Now())) == 3
	}, "gw-a never saw the fleet")
	c.Kill()
	natstest.Eventually(t, 15*time.Second, func() bool {
		for _, r := range a.registry.Candidates("", time.Now()) {
			if r.Node == "gw-c" {
				return false
			}
		}
		return true
	}, "gw-c still a candidate after its death")
	counts := map[string]int{}
	for range 300 {
		url, node := connectAnswer(t, a)
		counts[node]++
		dial(t, url)
	}
	t.Logf("300 clients of the dead node: %v", counts)
	for _, n := range []string{"gw-a", "gw-b"} {
		if counts[n] < 135 || counts[n] > 165 {
			t.Fatalf("split %v, want 150 each within 15", counts)
		}
	}
	if counts["gw-c"] != 0 {
		t.Fatalf("the dead node was named %d times", counts["gw-c"])
	}
}
