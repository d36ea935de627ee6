package dashboard

import (
	"github.com/rs/zerolog"

	"github.com/wsheal/wsheal/services/monitor"
)

// Mount serves the dashboard from the monitor's HTTP server at / and runs
// it on the monitor's NATS connection. Both binaries that run a monitor
// (services/monitor/cmd/monitor and `wsheal serve monitor`) call it.
func Mount(svc *monitor.Service, log zerolog.Logger) {
	d := New(Config{}, log)
	svc.Handle("/", d.Handler())
	svc.Attach(d.Run)
}

// NewMonitor builds a monitor that serves the dashboard: what both
// binaries run.
func NewMonitor(cfg monitor.Config, log zerolog.Logger) (*monitor.Service, error) {
	svc, err := monitor.New(cfg, log)
	if err != nil {
		return nil, err
	}
	Mount(svc, log)
	return svc, nil
}
