package webclient_test

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/gatewaytest"
	"github.com/wsheal/wsheal/services/gateway/webclient"
)

// TestDeclarationsTypeCheck runs tsc (Debian's node-typescript) on a
// usage of the declarations: wsheal.d.ts must be valid and describe the
// client's API.
func TestDeclarationsTypeCheck(t *testing.T) {
	tsc, err := exec.LookPath("tsc")
	if err != nil {
		t.Skip("\n\n*** SKIPPED: no tsc on PATH: wsheal.d.ts was NOT type-checked.\n" +
			"*** Install it: apt-get install -y node-typescript (make test does when it can)\n")
	}
	out, err := exec.Command(tsc, "-p", "testdata/tsconfig.json").CombinedOutput()
	if err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}

// TestServed: a gateway serves the module and its declarations, the
// unversioned paths revalidated by ETag, the versioned ones immutable,
// with CORS for the configured origins only.
func TestServed(t *testing.T) {
	ns := natstest.Start(t)
	cfg := gatewaytest.Config(ns.URL(), "gw-js")
	cfg.CORSOrigins = []string{"http://app.example"}
	gw := gatewaytest.Start(t, cfg)
	base := "http://" + gw.Addr()
	for _, tc := range []struct {
		path, cache, ctype string
		body               []byte
	}{
		{webclient.PathJS, "no-cache", "text/javascript", webclient.JS},
		{webclient.PathDTS, "no-cache", "application/typescript", webclient.DTS},
		{webclient.VersionedPathJS, "immutable", "text/javascript", webclient.JS},
		{webclient.VersionedPathDTS, "immutable", "application/typescript", webclient.DTS},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
			req.Header.Set("Origin", "http://app.example")
			resp := do(t, req)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !bytes.Equal(body, tc.body) {
				t.Fatalf("status %d, %d bytes; want 200 and the file", resp.StatusCode, len(body))
			}
			h := resp.Header
			if !strings.Contains(h.Get("Cache-Control"), tc.cache) || !strings.HasPrefix(h.Get("Content-Type"), tc.ctype) {
				t.Fatalf("headers %v", h)
			}
			if h.Get("Access-Control-Allow-Origin") != "http://app.example" {
				t.Fatalf("no CORS for an allowed origin: %v", h)
			}
			req, _ = http.NewRequest(http.MethodGet, base+tc.path, nil)
			req.Header.Set("If-None-Match", h.Get("ETag"))
			req.Header.Set("Origin", "http://evil.example")
			resp = do(t, req)
			if resp.StatusCode != http.StatusNotModified {
				t.Fatalf("revalidation: status %d, want 304", resp.StatusCode)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("CORS for an origin not listed: %v", resp.Header)
			}
		})
	}
	resp := do(t, mustReq(t, http.MethodGet, base+"/v1/000000000000/wsheal.js"))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another version: status %d, want 404", resp.StatusCode)
	}
}

func mustReq(t *testing.T, method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}
