package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events/service/tracing"
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

// serveCmd runs one service in the foreground: `wsheal serve gateway`.
// `wsheal dev` re-executes the binary this way, and the compose images do.
func serveCmd() *cobra.Command {
	serve := &cobra.Command{
		Use:     "serve <service>",
		GroupID: "run",
		Short:   "Run one service (gateway, monitor, healer, notifier), configured by its WSHEAL_<SERVICE>_* environment",
		Long: `Run one service in the foreground until SIGINT or SIGTERM. Each reads its
configuration from environment variables with its own prefix; 'wsheal config'
lists them all with their defaults.`,
		Example: `  WSHEAL_GATEWAY_NODE=gw-1 WSHEAL_GATEWAY_LISTEN=0.0.0.0:8080 wsheal serve gateway
  WSHEAL_HEALER_DRY_RUN=true wsheal serve healer`,
	}
	for _, n := range serviceNames() {
		s := serviceRegistry[n]
		serve.AddCommand(&cobra.Command{
			Use:   n,
			Short: s.short,
			Long:  s.short + ".\n\nConfigured by environment variables WSHEAL_" + strings.ToUpper(n) + "_* ('wsheal config " + n + "' lists them).",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return tracing.Run(cmd.Context(), n, s.run) },
		})
	}
	return serve
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
