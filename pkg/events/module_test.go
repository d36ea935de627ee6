package events_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestModuleRequiresNoServer: the contract module requires no nats-server
// and no other wsheal module, not even for its tests: every service and
// the client SDK import it, and a test that needs a running server lives
// in pkg/natskit beside the embedded server. The graph is read outside
// the workspace, whose graph spans every module.
func TestModuleRequiresNoServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod graph")
	}
	cmd := exec.Command("go", "mod", "graph")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go mod graph: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/nats-io/nats.go@") {
		t.Fatalf("go mod graph does not show nats.go:\n%s", out)
	}
	for _, mod := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(mod, "github.com/nats-io/nats-server/"):
			t.Errorf("the contract's module graph holds %s", mod)
		case strings.HasPrefix(mod, "github.com/wsheal/wsheal/") && mod != "github.com/wsheal/wsheal/pkg/events":
			t.Errorf("the contract's module graph holds %s", mod)
		}
	}
}
