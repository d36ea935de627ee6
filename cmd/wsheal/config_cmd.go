package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kelseyhightower/envconfig"
	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
)

// configTable is the Markdown row format of `wsheal config`; the README's
// configuration tables are its output, and a test keeps them in step.
const configTable = `{{range .}}| ` + "`{{usage_key .}}`" + ` | {{usage_type .}} | {{with usage_default .}}` + "`{{.}}`" + `{{end}} | {{usage_description .}} |
{{end}}`

func configCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "config [service...]",
		GroupID: "run",
		Short:   "Print every environment variable of the services as Markdown tables",
		Example: `  wsheal config
  wsheal config gateway healer`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return serviceNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = configSections()
			}
			for _, name := range args {
				if err := writeConfig(cmd.OutOrStdout(), name); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// configSections are the sections `wsheal config` prints by default, in
// the README's order: every service, then the channel stream's settings.
func configSections() []string { return append(serviceNames(), channelsSection, tracingSection) }

// tracingSection names OpenTelemetry's variables in `wsheal config`: every
// service (and wsheal dev) reads them, without a WSHEAL_ prefix.
const tracingSection = "tracing"

// channelsSection names the channel stream's settings in `wsheal config`:
// WSHEAL_CHANNELS_*, read by the gateway and by wsheal dev.
const channelsSection = "channels"

func writeConfig(w io.Writer, name string) error {
	if name == channelsSection {
		fmt.Fprintf(w, "#### channels (`WSHEAL_CHANNELS_*`, read by the gateway and wsheal dev)\n\n| variable | type | default | meaning |\n| --- | --- | --- | --- |\n")
		if err := envconfig.Usagef("WSHEAL", new(events.ChannelLimits), w, configTable); err != nil {
			return err
		}
		fmt.Fprintln(w)
		return nil
	}
	if name == tracingSection {
		fmt.Fprintf(w, "#### tracing (OpenTelemetry's `OTEL_*`, read by every service and wsheal dev)\n\n| variable | type | default | meaning |\n| --- | --- | --- | --- |\n")
		if err := envconfig.Usagef("", new(tracing.Config), w, configTable); err != nil {
			return err
		}
		fmt.Fprintln(w)
		return nil
	}
	s, ok := serviceRegistry[name]
	if !ok {
		return fmt.Errorf("no service %q; services: %s", name, strings.Join(serviceNames(), ", "))
	}
	prefix := "WSHEAL_" + strings.ToUpper(name)
	fmt.Fprintf(w, "#### %s (`%s_*`)\n\n| variable | type | default | meaning |\n| --- | --- | --- | --- |\n", name, prefix)
	if err := envconfig.Usagef(prefix, s.config(), w, configTable); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

func serviceNames() []string {
	var out []string
	for n := range serviceRegistry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
