// Package webclient holds wsheal.js, the browser client of the gateways
// (a dependency-free ES module that follows docs/protocol.md as pkg/client
// does), its TypeScript declarations, and the handler that serves both.
//
// Every gateway serves them at /v1/wsheal.js and /v1/wsheal.d.ts (ETag,
// revalidated on every use) and at /v1/<Version>/wsheal.js and
// /v1/<Version>/wsheal.d.ts (immutable, cached for a year): a page that
// imports the versioned path never loads a stale client and never asks
// twice. Version is derived from the files' content.
package webclient

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	_ "embed"
)

// JS is wsheal.js.
//
//go:embed wsheal.js
var JS []byte

// DTS is wsheal.d.ts.
//
//go:embed wsheal.d.ts
var DTS []byte

// Version names the content of JS and DTS (12 hex digits of their SHA-256).
var Version = version()

func version() string {
	h := sha256.New()
	h.Write(JS)
	h.Write(DTS)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Paths of the files, unversioned and versioned.
var (
	PathJS           = "/v1/wsheal.js"
	PathDTS          = "/v1/wsheal.d.ts"
	VersionedPathJS  = "/v1/" + Version + "/wsheal.js"
	VersionedPathDTS = "/v1/" + Version + "/wsheal.d.ts"
)

// Routes registers the four paths on mux, each handler passed through wrap
// (the gateway's CORS).
func Routes(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	for _, f := range []struct {
		path, ctype string
		body        []byte
		immutable   bool
	}{
		{PathJS, "text/javascript; charset=utf-8", JS, false},
		{PathDTS, "application/typescript; charset=utf-8", DTS, false},
		{VersionedPathJS, "text/javascript; charset=utf-8", JS, true},
		{VersionedPathDTS, "application/typescript; charset=utf-8", DTS, true},
	} {
		h := serve(f.ctype, f.body, f.immutable)
		mux.Handle("GET "+f.path, wrap(h))
		mux.Handle("OPTIONS "+f.path, wrap(h))
	}
}

// serve answers one file with its ETag; conditional requests get 304.
func serve(ctype string, body []byte, immutable bool) http.Handler {
	etag := `"` + Version + `"`
	cache := "no-cache"
	if immutable {
		cache = "public, max-age=31536000, immutable"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", cache)
		w.Header().Set("ETag", etag)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
