package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wsheal/wsheal/cmd/wsheal/internal/dev"
	"github.com/wsheal/wsheal/pkg/events/service"
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
  wsheal dev --nats-port -1 --gateway-port 19081 --monitor-port 19090   # next to another stack`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := service.Logger(os.Stderr, "warn", "console")
			if err != nil {
				return err
			}
			cfg.Services = controlPlane()
			sup, err := dev.New(cfg, cmd.OutOrStdout(), log)
			if err != nil {
				return err
			}
			return sup.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "", "data directory (JetStream, logs); default: a temporary one removed at exit")
	f.StringVar(&cfg.Host, "host", "127.0.0.1", "loopback address every listener binds")
	f.IntVar(&cfg.NATSPort, "nats-port", 4222, "embedded NATS client port (-1: random)")
	f.IntVar(&cfg.Gateways, "gateways", 3, "gateway nodes")
	f.IntVar(&cfg.GatewayPort, "gateway-port", 8081, "port of the first gateway; the others follow")
	f.IntVar(&cfg.MonitorPort, "monitor-port", 8090, "monitor HTTP port (dashboard, /metrics)")
	f.IntVar(&cfg.DemoClients, "demo-clients", 300, "demo WebSocket clients (0: none)")
	f.Float64Var(&cfg.DemoRate, "demo-rate", 20, "demo publishes per second")
	f.DurationVar(&cfg.Faults, "faults", 0, "kill -9 a random gateway this often (0: never)")
	f.BoolVar(&cfg.Quiet, "quiet", false, "print the endpoints only, no live event lines")
	f.DurationVar(&cfg.ShutdownWait, "shutdown-wait", 5*time.Second, "how long a child may take to stop before it is killed")
	return cmd
}
