package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEConfigurationIsCurrent keeps the README's configuration tables
// equal to what the code reads. `make readme` rewrites them.
func TestREADMEConfigurationIsCurrent(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<!-- config:start -->\n(.*)<!-- config:end -->`).FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no config:start/config:end block")
	}
	var want strings.Builder
	for _, n := range configSections() {
		if err := writeConfig(&want, n); err != nil {
			t.Fatal(err)
		}
	}
	if string(m[1]) != want.String() {
		t.Fatalf("README.md configuration is stale: run `make readme`")
	}
	for _, line := range strings.Split(want.String(), "\n") {
		if strings.HasPrefix(line, "| `WSHEAL_") && strings.HasSuffix(line, "|  |") {
			t.Errorf("undocumented variable (add a desc tag): %s", line)
		}
	}
}
