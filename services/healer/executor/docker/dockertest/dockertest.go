// Package dockertest builds the FROM-scratch images that the Docker
// executor's tests run: one Go program per image, each image this test's
// alone and removed when it ends.
package dockertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nuid"
)

// Image builds the Go program pkg (an import path, or a path relative to
// the test's directory) as a static linux binary into a FROM scratch
// image whose entry point it is, and returns the image's tag. The image
// carries a label of its own: two tests building the same program at
// once would otherwise get one cached image, and one's cleanup would
// remove it under the other.
func Image(t testing.TB, pkg string) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "app"), pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	tag := "wsheal-healer-test:" + strings.ToLower(nuid.Next())
	df := "FROM scratch\nCOPY app /app\nLABEL wsheal.test=" + tag + "\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}
