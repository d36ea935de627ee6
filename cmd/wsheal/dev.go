package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/cmd/wsheal/internal/dev"
	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/events/service"
	"github.com/wsheal/wsheal/pkg/events/service/tracing"
)

func devCmd() *cobra.Command {
	cfg := dev.Config{}
	cmd := &cobra.Command{
		Use:     "dev",
		GroupID: "run",
		Short:   "Run the whole system on this machine: NATS, 3 gateways, monitor, healer, notifier, demo clients",
		Long: `Run the whole system from one command on an embedded NATS server.

Each service runs as its own child process (this binary re-executed), so a
gateway can be killed (kill -9) or hung (kill -STOP) for real and you can
watch the monitor detect it, the healer restart it and rehome its clients,
and the notifier open and resolve the incident. Child logs go to files in
the data directory; the terminal shows the endpoints and a live summary.`,
		Example: `  wsheal dev
  wsheal dev --faults 45s              # kill a random gateway every 45 s
  wsheal dev --gateways 5 --demo-clients 1000
  wsheal dev --nats-cluster 3 --replicas 2  # lose a NATS node or a replica for real
  wsheal dev --nats-port -1 --gateway-port 19081 --monitor-port 19090   # next to another stack

While it runs, from another terminal:
  wsheal dev ps                        # the processes, their pids and how they ended
  wsheal dev restart gw-2              # what the healer asks for; also healer-1, monitor-1 ...
  wsheal dev nats stop n2              # with --nats-cluster 3: lose a NATS node; start n2 brings it back`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := service.Logger(os.Stderr, "warn", "console")
			if err != nil {
				return err
			}
			cfg.Services = controlPlane()
			// The demo clients are `wsheal bench`, which runs wsheal-tools:
			// without it the stack runs, without its load.
			if _, err := findTool(); err != nil && cfg.DemoClients > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no demo clients: %v\n", err)
				cfg.DemoClients = 0
			}
			sup, err := dev.New(cfg, cmd.OutOrStdout(), log)
			if err != nil {
				return err
			}
			return tracing.Run(cmd.Context(), "dev", sup.Run)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "", "data directory (JetStream, logs); default: a temporary one removed at exit")
	f.StringVar(&cfg.Host, "host", "127.0.0.1", "loopback address every listener binds")
	f.IntVar(&cfg.NATSPort, "nats-port", 4222, "embedded NATS client port (-1: random); a cluster uses it and the next two")
	f.IntVar(&cfg.NATSCluster, "nats-cluster", 1, "NATS servers: 1, or 3 for a cluster with JetStream replicated 3 times")
	f.IntVar(&cfg.Replicas, "replicas", 1, "instances of each of monitor, healer and notifier (1..3)")
	f.IntVar(&cfg.Gateways, "gateways", 3, "gateway nodes")
	f.IntVar(&cfg.GatewayPort, "gateway-port", 8081, "port of the first gateway; the others follow")
	f.IntVar(&cfg.MonitorPort, "monitor-port", 8090, "monitor HTTP port (dashboard, /metrics)")
	f.IntVar(&cfg.DemoClients, "demo-clients", 300, "demo WebSocket clients: wsheal bench, run by wsheal-tools (0: none)")
	f.Float64Var(&cfg.DemoRate, "demo-rate", 20, "demo publishes per second")
	f.DurationVar(&cfg.Faults, "faults", 0, "kill -9 a random gateway this often (0: never)")
	f.BoolVar(&cfg.Quiet, "quiet", false, "print the endpoints only, no live event lines")
	f.DurationVar(&cfg.ShutdownWait, "shutdown-wait", 5*time.Second, "how long a child may take to stop before it is killed")
	cmd.AddCommand(devPsCmd(), devRestartCmd(), devNATSCmd())
	return cmd
}

func devPsCmd() *cobra.Command {
	return &cobra.Command{
		Use: "ps", Short: "The processes of a running wsheal dev: name, pid, state, how each last ended", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := ask(cmd.Context(), events.CtlDevList, events.Empty{})
			if err != nil {
				return err
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tSERVICE\tPID\tRUNNING\tLAST EXIT\tURL")
			for _, p := range l.Processes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%s\t%s\n", p.Name, p.Service, p.PID, p.Running, p.Exit, p.URL)
			}
			return tw.Flush()
		},
	}
}

func devRestartCmd() *cobra.Command {
	return &cobra.Command{
		Use: "restart <process>", Short: "Restart a process of a running wsheal dev (kills it first if it still runs)",
		Example: "  wsheal dev restart gw-2\n  wsheal dev restart healer-1", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := events.RestartCommand{ID: commandID(""), Node: args[0]}
			rep, err := ask(cmd.Context(), events.CtlDevRestart, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s restarted, pid %d\n", rep.Process.Name, rep.Process.PID)
			return nil
		},
	}
}

func devNATSCmd() *cobra.Command {
	return &cobra.Command{
		Use: "nats stop|start|list [n1|n2|n3]", Short: "Stop or start one NATS server of a running wsheal dev --nats-cluster 3",
		Example: "  wsheal dev nats stop n2\n  wsheal dev nats start n2", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := events.NATSCommand{Op: args[0]}
			if len(args) == 2 {
				c.Node = args[1]
			}
			if err := c.Validate(); err != nil {
				return err
			}
			rep, err := ask(cmd.Context(), events.CtlDevNATS, c)
			if err != nil {
				return err
			}
			for _, n := range []string{"n1", "n2", "n3"} {
				if up, ok := rep.Running[n]; ok {
					fmt.Fprintf(cmd.OutOrStdout(), "%s running=%v\n", n, up)
				}
			}
			return nil
		},
	}
}
