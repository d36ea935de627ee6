package main

import (
	"context"
	"sort"

	"github.com/spf13/cobra"
)

// runService runs one service in this process until ctx ends; its config
// comes from its WSHEAL_<SVC>_* environment.
type runService func(ctx context.Context) error

// serviceRegistry holds the services compiled into this binary, each
// added by its own file.
var serviceRegistry = map[string]registered{}

// registered is one service compiled into the binary.
type registered struct {
	short  string
	run    runService
	config func() any // a pointer to the service's zero Config, for `wsheal config`
}

func serviceCmds() []*cobra.Command {
	names := make([]string, 0, len(serviceRegistry))
	for n := range serviceRegistry {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*cobra.Command
	for _, n := range names {
		s := serviceRegistry[n]
		out = append(out, &cobra.Command{
			Use:     n,
			GroupID: "run",
			Short:   s.short,
			Long:    s.short + ".\n\nConfigured by environment variables WSHEAL_" + upperASCII(n) + "_* (see the README's configuration table).",
			Args:    cobra.NoArgs,
			RunE:    func(cmd *cobra.Command, _ []string) error { return s.run(cmd.Context()) },
		})
	}
	return out
}

// controlPlane lists the control-plane services this binary holds, in the
// order wsheal dev starts them.
func controlPlane() []string {
	var out []string
	for _, n := range []string{"monitor", "healer", "notifier"} {
		if _, ok := serviceRegistry[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
