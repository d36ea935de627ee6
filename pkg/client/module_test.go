package client

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestModuleRequiresNoService: the SDK's module requires no service,
// command or deployment module, not even for its tests (those that need
// a real gateway live in test/system). The graph is read outside the
// workspace, whose graph spans every module.
func TestModuleRequiresNoService(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod graph")
	}
	cmd := exec.Command("go", "mod", "graph")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go mod graph: %v\n%s", err, out)
	}
	const prefix = "github.com/wsheal/wsheal/"
	if !strings.Contains(string(out), " "+prefix+"pkg/events@") {
		t.Fatalf("go mod graph does not show pkg/events:\n%s", out)
	}
	for _, mod := range strings.Fields(string(out)) {
		if name, ok := strings.CutPrefix(mod, prefix); ok && !strings.HasPrefix(name, "pkg/") {
			t.Errorf("the client's module graph holds %s", mod)
		}
	}
}
