package main

import (
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

// TestBinaryHoldsNoTools: the production binary, and so the image that
// carries it, holds no load or chaos code. None of the packages it is
// built from (`go list -deps`, this workspace) belongs to the tools
// module or is named bench, suite or chaos; the command's module graph,
// read outside the workspace, holds no tools module either. `wsheal
// bench` and `wsheal chaos` run the separate wsheal-tools binary.
func TestBinaryHoldsNoTools(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list and go mod graph")
	}
	const tools = "github.com/wsheal/wsheal/tools"
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/wsheal/wsheal/services/gateway") {
		t.Fatalf("go list -deps does not show the gateway:\n%s", out)
	}
	for _, p := range deps {
		switch path.Base(p) {
		case "bench", "suite", "chaos":
			t.Errorf("the wsheal binary is built from %s", p)
		}
		if p == tools || strings.HasPrefix(p, tools+"/") {
			t.Errorf("the wsheal binary is built from %s", p)
		}
	}

	graph := exec.Command("go", "mod", "graph")
	graph.Env = append(os.Environ(), "GOWORK=off")
	out, err = graph.CombinedOutput()
	if err != nil {
		t.Fatalf("go mod graph: %v\n%s", err, out)
	}
	for _, mod := range strings.Fields(string(out)) {
		if mod == tools || strings.HasPrefix(mod, tools+"@") {
			t.Errorf("the command's module graph holds %s", mod)
		}
	}
}
