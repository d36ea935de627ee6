package webclient

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
)

//go:embed example.html
var examplePage string

var exampleTmpl = template.Must(template.New("example").Parse(examplePage))

// Example is a page for newcomers (served by `wsheal dev`): it imports
// wsheal.js from module (a gateway's VersionedPathJS), connects through
// discovery (a gateway's /v1/connect) or urls, subscribes, publishes and
// shows the connection state and the client's events.
func Example(module, discovery string, urls []string) http.Handler {
	if urls == nil {
		urls = []string{}
	}
	list, _ := json.Marshal(urls)
	data := map[string]any{"Module": module, "Discovery": discovery, "URLs": template.JS(list)}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = exampleTmpl.Execute(w, data)
	})
}
