package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/tools/internal/suite"
)

// suiteServerCmd is the hidden `wsheal suite-server wsheal|gws|nats`: one
// server process of the benchmark suite (it prints a JSON ready line and
// serves until its stdin closes).
func suiteServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "suite-server kind [flags]",
		Short:              "A server process of the benchmark suite (internal)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return suite.ServerMain(cmd.Context(), args, os.Stdin, cmd.OutOrStdout())
		},
	}
}

// suiteWorkerCmd is the hidden `wsheal suite-worker`: a client process of
// the benchmark suite, driven over stdin/stdout.
func suiteWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "suite-worker",
		Short:  "A client process of the benchmark suite (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return suite.Worker(cmd.Context(), os.Stdin, cmd.OutOrStdout())
		},
	}
}

// runSuite is what `wsheal bench --suite` runs: the side-by-side suite,
// its table printed to stdout and saved under outDir ("" to not save),
// progress on stderr. quick scales it down; profileDir ("" for none)
// receives pprof profiles of the gateway under fan-out.
func runSuite(cmd *cobra.Command, sw suiteFlags) error {
	if sw.channelsOnly {
		sw.only = append(sw.only, "channels")
	}
	_, err := suite.Run(cmd.Context(), suite.Options{
		Quick: sw.quick, Rounds: sw.rounds, OutDir: sw.out, ProfileDir: sw.profiles,
		Only: sw.only, Centrifugo: sw.centrifugo, Log: cmd.ErrOrStderr(),
	}, cmd.OutOrStdout())
	return err
}
