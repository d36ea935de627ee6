package receiver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReceiver(t *testing.T) {
	var out strings.Builder
	srv := httptest.NewServer(New(&out, 2))
	defer srv.Close()
	for _, body := range []string{`{"payload":{"summary":"gw-2 down"},"event_action":"trigger"}`, `{"text":"hi"}`, `{"x":1}`} {
		resp, err := http.Post(srv.URL+"/pd", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	resp, err := http.Post(srv.URL+"/pd", "application/json", strings.NewReader("not json"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body answered %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/received")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []Received
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[1].Body) != `{"x":1}` {
		t.Fatalf("kept %d: %+v", len(got), got)
	}
	if !strings.Contains(out.String(), "trigger: gw-2 down") || !strings.Contains(out.String(), "hi") {
		t.Fatalf("lines: %q", out.String())
	}
}
