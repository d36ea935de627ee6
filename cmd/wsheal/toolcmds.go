package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// toolsBinary holds the load and chaos tools (module tools/): this
// binary, the one the images carry, holds none of their code.
const toolsBinary = "wsheal-tools"

// errNoTools: wsheal-tools is neither beside this executable nor on PATH.
var errNoTools = errors.New("the load and chaos tools are not installed")

// toolCmds are `wsheal bench` and `wsheal chaos`, run the way git runs
// its external subcommands: wsheal-tools, found beside this executable or
// on PATH, replaces this process with the same arguments, so it gets the
// signals and its exit status is the command's.
func toolCmds() []*cobra.Command {
	return []*cobra.Command{
		toolCmd("bench", "Open N WebSocket clients, publish at a rate, report delivery, latency, loss and reconnects; --suite: the side-by-side suite"),
		toolCmd("chaos [scenario ...]", "Inject named faults into a running stack under load and report how it healed"),
	}
}

func toolCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		GroupID: "test",
		Short:   short + " (runs " + toolsBinary + ")",
		Long: short + `.

Runs ` + toolsBinary + ` with the same arguments: ` + toolsBinary + ` --help and
` + toolsBinary + ` <command> --help describe them. It is a binary of its own,
built by 'make tools-bin' (bin/` + toolsBinary + `, beside bin/wsheal), found
beside this executable or on PATH.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := findTool()
			if err != nil {
				return fmt.Errorf("%s: %w", cmd.Name(), err)
			}
			// With flag parsing off, args hold every argument after
			// `wsheal`, the NATS flags given before the name among them.
			argv := append([]string{toolsBinary, cmd.Name()}, args...)
			return syscall.Exec(path, argv, os.Environ())
		},
	}
}

// findTool looks for wsheal-tools beside this executable (symbolic links
// followed), then on PATH.
func findTool() (string, error) {
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), toolsBinary)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(toolsBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s is neither beside wsheal nor on PATH. Build it with 'make tools-bin' "+
		"(bin/%s, beside bin/wsheal) or 'cd tools && go build -o DIR ./cmd/%s' with DIR a folder on PATH; "+
		"under docker compose, the bench service runs the %s image", errNoTools, toolsBinary, toolsBinary, toolsBinary, toolsBinary)
}
