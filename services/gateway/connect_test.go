package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/wsheal/wsheal/pkg/events/natstest"
)

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
	natstest.Eventually(t, 5*time.Second, func() bool {
		return len(a.registry.Candidates("", time.Now())) == 3
	}, "gw-a never saw the fleet")
	c.Kill()
	natstest.Eventually(t, 5*time.Second, func() bool {
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
