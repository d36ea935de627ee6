package tracing_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The client SDK and the contract package hold no OpenTelemetry code:
// only the service binaries, through this package, pull it in.
func TestOpenTelemetryStaysOutOfTheClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, pkg := range []string{"github.com/wsheal/wsheal/pkg/client", "github.com/wsheal/wsheal/pkg/events",
		"github.com/wsheal/wsheal/pkg/events/service"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, "go.opentelemetry.io/") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
