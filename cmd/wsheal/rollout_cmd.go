package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/cmd/wsheal/internal/rollout"
	"github.com/wsheal/wsheal/services/healer/executor/docker"
)

func rolloutCmd() *cobra.Command {
	cfg := rollout.Config{}
	var socket, label string
	cmd := &cobra.Command{
		Use:     "rollout",
		GroupID: "ops",
		Short:   "Replace every gateway container with one of a new image, one at a time, losing nothing",
		Long: `Roll the gateways onto a new image (make upgrade runs this after make images).
For each gateway container (the running containers that carry the node
label, io.wsheal.node by default) whose image is not the one its reference
(wsheal:local) names now: start a replacement beside it (same settings and
networks, its own node id), wait until the monitor sees it healthy, keep the
healer's hands off the old node, drain the old node's clients to the
replacement over --drain-over, stop it (a clean stop raises no anomaly and
opens no incident), remove it, and wait until the fleet is healthy and
balanced before the next. A replacement that never becomes healthy is
removed and the rollout stops with the old node still serving.

It needs the Docker socket and the operator's NATS credentials. At the end
it reports the time taken, the peak accept rate any node saw, and how many
incidents opened meanwhile.`,
		Example: `  make upgrade
  wsheal rollout --image wsheal:v2
  wsheal rollout --force --drain-over 20s   # replace every gateway, e.g. to move them all to fresh containers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, err := connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			cfg.Docker, cfg.NC, cfg.Out, cfg.Request, cfg.By = docker.New(socket, label), nc, cmd.OutOrStdout(), natsOpts.Timeout, operator()
			rep, err := rollout.Run(cmd.Context(), cfg)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "rollout: %d replaced, %d already current, in %s; peak accept rate %.1f/s (%s); incidents opened: %d\n",
				len(rep.Steps), len(rep.Skipped), rep.Took.Round(100*time.Millisecond), rep.PeakAcceptRate, orDash(rep.PeakNode), rep.Incidents)
			return err
		},
	}
	f := cmd.Flags()
	defaultLabel := docker.DefaultLabel
	if l := os.Getenv("WSHEAL_NODE_LABEL"); l != "" {
		defaultLabel = l
	}
	f.StringVar(&socket, "docker-socket", docker.DefaultSocket, "the Docker engine's socket")
	f.StringVar(&label, "label", defaultLabel, "label key of the gateway containers (env WSHEAL_NODE_LABEL)")
	f.StringVar(&cfg.Image, "image", "", "image of the replacements (default: each container's own reference, e.g. wsheal:local, as it names now)")
	f.BoolVar(&cfg.Force, "force", false, "replace containers already on that image too")
	f.DurationVar(&cfg.DrainOver, "drain-over", 10*time.Second, "spread each old node's reconnect hints over this long")
	f.DurationVar(&cfg.Ready, "ready-timeout", 2*time.Minute, "bound on a replacement becoming healthy, and on a drain beyond --drain-over")
	f.DurationVar(&cfg.Settle, "settle-timeout", time.Minute, "bound on the fleet being healthy and balanced after each step")
	f.Float64Var(&cfg.Balance, "balance", 1.5, "most clients on one node over the mean, once a step settled (or 1.1x the spread before the step, if wider)")
	f.DurationVar(&cfg.Grace, "stop-grace", 40*time.Second, "stop grace of an old container")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
